import Foundation

/// Small EINTR-safe wrappers over the POSIX calls the image store and the engine need.
public enum POSIX {
    /// Opens a file, retrying on EINTR.
    public static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws -> Int32 {
        while true {
            let fd = Foundation.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw SystemError("open", path) }
        }
    }

    /// Writes all of `bytes` at the current position.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress?.advanced(by: done), bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write", path)
            }
            done += n
        }
    }

    /// Flushes a file to disk.
    public static func fsync(_ fd: Int32, path: String) throws {
        if Foundation.fsync(fd) != 0 { throw SystemError("fsync", path) }
    }

    /// Flushes a directory, making a rename inside it durable.
    public static func fsyncDirectory(_ path: String) {
        let fd = Foundation.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = Foundation.fsync(fd)
        close(fd)
    }

    /// Renames atomically.
    public static func rename(_ from: String, _ to: String) throws {
        if Foundation.rename(from, to) != 0 { throw SystemError("rename", "\(from) -> \(to)") }
    }

    /// Takes an advisory lock, blocking (or not) until granted.
    public static func flock(_ fd: Int32, _ operation: Int32, path: String) throws -> Bool {
        while true {
            if systemFlock(fd, operation) == 0 { return true }
            if errno == EINTR { continue }
            if errno == EWOULDBLOCK && operation & LOCK_NB != 0 { return false }
            throw SystemError("flock", path)
        }
    }

    /// The size of an open file.
    public static func size(_ fd: Int32, path: String) throws -> Int64 {
        var st = stat()
        if fstat(fd, &st) != 0 { throw SystemError("fstat", path) }
        return Int64(st.st_size)
    }

    /// Writes a whole small file atomically: temp file, fsync, rename, fsync directory.
    /// `durable: false` skips both flushes, for files that can be rebuilt (readers still see the
    /// old or the new content, never a mix; after a power loss the old one may be back).
    public static func writeFileAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644,
                                           durable: Bool = true) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = "\(dir)/.tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = try open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode)
        do {
            defer { close(fd) }
            try bytes.withUnsafeBytes { try writeAll(fd, $0, path: tmp) }
            if durable { try fsync(fd, path: tmp) }
        } catch {
            unlink(tmp)
            throw error
        }
        do {
            try rename(tmp, path)
        } catch {
            unlink(tmp)
            throw error
        }
        if durable { fsyncDirectory(dir) }
    }
}

/// The C `flock(2)` function; Swift's Glibc overlay shadows it with `struct flock`.
@_silgen_name("flock")
private func systemFlock(_ fd: Int32, _ operation: Int32) -> Int32
