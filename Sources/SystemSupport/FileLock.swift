import Foundation

/// An advisory `flock(2)` lock on a file, held until the lock is released (deinit).
public final class FileLock {
    private let fd: Int32

    /// Opens (creating) `path` and locks it; returns nil if `nonBlocking` and it is held.
    public init?(path: String, exclusive: Bool, nonBlocking: Bool = false) throws {
        fd = try POSIX.open(path, O_RDWR | O_CREAT, 0o644)
        var op = exclusive ? LOCK_EX : LOCK_SH
        if nonBlocking { op |= LOCK_NB }
        do {
            guard try POSIX.flock(fd, op, path: path) else { close(fd); return nil }
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }
}
