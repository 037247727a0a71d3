#if canImport(Glibc)
import Glibc
#endif
import CLinuxShim

/// An open file, with EINTR-retrying wrappers for the calls the stores need.
///
/// A plain value: the owner closes it exactly once.
public struct FileDescriptor: Sendable {
    public let rawValue: Int32
    public let path: String

    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> FileDescriptor {
        let fd = try SystemError.retrying("open(\(path))") { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd, path: path)
    }

    /// Writes every byte of `bytes`, looping over short writes.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = try SystemError.retrying("write(\(path))") {
                Glibc.write(rawValue, bytes.baseAddress! + offset, bytes.count - offset)
            }
            offset += written
        }
    }

    /// Reads up to `buffer.count` bytes at `offset`; 0 at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        try SystemError.retrying("pread(\(path))") { pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    public func sync() throws {
        try SystemError.retrying("fsync(\(path))") { fsync(rawValue) }
    }

    public func truncate(to size: Int64) throws {
        try SystemError.retrying("ftruncate(\(path))") { ftruncate(rawValue, off_t(size)) }
    }

    public func seek(to offset: Int64) throws {
        try SystemError.retrying("lseek(\(path))") { lseek(rawValue, off_t(offset), SEEK_SET) }
    }

    public func size() throws -> Int64 {
        var info = stat()
        try SystemError.retrying("fstat(\(path))") { fstat(rawValue, &info) }
        return Int64(info.st_size)
    }

    /// Asks the kernel to start writing back dirty pages of `[offset, offset+count)` now, so the final
    /// fsync of a large blob has little left to do.
    public func startWriteback(offset: Int64, count: Int64) {
        _ = berth_start_writeback(rawValue, offset, count)
    }

    public func close() {
        _ = Glibc.close(rawValue)
    }
}

/// Filesystem helpers shared by the stores.
enum FileSystem {
    static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// `mkdir -p`, fsyncing each parent whose entries changed so that new directories survive a crash.
    static func makeDirectories(_ path: String) throws {
        if exists(path) { return }
        let parent = parentDirectory(path)
        if parent != path { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 {
            let code = errno
            if code != EEXIST { throw SystemError("mkdir(\(path))", code) }
            return
        }
        try syncDirectory(parent)
    }

    static func syncDirectory(_ path: String) throws {
        let fd = try FileDescriptor.open(path, O_RDONLY | O_DIRECTORY)
        defer { fd.close() }
        try fd.sync()
    }

    static func rename(_ from: String, _ to: String) throws {
        try SystemError.retrying("rename(\(from), \(to))") { Glibc.rename(from, to) }
    }

    static func remove(_ path: String) {
        _ = unlink(path)
    }

    static func parentDirectory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
