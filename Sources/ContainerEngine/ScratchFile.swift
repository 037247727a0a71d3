import Foundation
import ImageStore

/// Atomic replacement without fsync, for files the engine can rebuild: container records and
/// the generated `/etc` files. Readers see the old or the new content, never a mix; after a
/// power loss a record may be lost, and the container is then ignored (as if never created)
/// instead of every container start paying for several disk flushes.
enum ScratchFile {
    static func replace(_ path: String, with bytes: [UInt8], mode: mode_t = 0o600) throws {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError("open", temporary) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                close(fd)
                unlink(temporary)
                throw SystemError("write", temporary)
            }
            offset += n
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw SystemError("rename", path)
        }
    }
}
