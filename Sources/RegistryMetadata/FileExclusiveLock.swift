import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite store's `ExclusiveLock`: an `flock` on a file of its own in a directory beside
/// the database. The processes sharing the database (a server and a `garbage-collect`) exclude
/// each other, and the kernel frees the lock when its process dies. Each lock opens its own file
/// description, so two callers in one process exclude each other as well.
final class FileExclusiveLock: ExclusiveLock {
    let name: String
    private let descriptor: Mutex<Int32>

    private init(name: String, descriptor: Int32) {
        self.name = name
        self.descriptor = Mutex(descriptor)
    }

    /// Takes the lock, or returns nil when another holder has it. Blocking (it opens a file):
    /// call it off the event loops.
    static func tryLock(_ name: String, in directory: String) throws -> FileExclusiveLock? {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw LockFileError("cannot make the lock directory \(directory): \(String(cString: strerror(errno)))")
        }
        let path = directory + "/" + fileName(for: name)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw LockFileError("cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let error = errno
            close(descriptor)
            if error == EWOULDBLOCK { return nil }
            throw LockFileError("cannot lock \(path): \(String(cString: strerror(error)))")
        }
        return FileExclusiveLock(name: name, descriptor: descriptor)
    }

    /// The name itself when it is plain, else its bytes in hex (endpoint names come from the
    /// configuration and may hold `/` or `..`).
    static func fileName(for name: String) -> String {
        let plain = !name.isEmpty && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
        if plain { return name }
        return "x-" + name.utf8.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    func isHeld() async -> Bool { descriptor.withLock { $0 >= 0 } }

    func release() async { closeDescriptor() }

    private func closeDescriptor() {
        descriptor.withLock { descriptor in
            guard descriptor >= 0 else { return }
            close(descriptor)
            descriptor = -1
        }
    }

    deinit { closeDescriptor() }
}

/// A lock file that could not be made or locked (not merely held by another process).
struct LockFileError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
