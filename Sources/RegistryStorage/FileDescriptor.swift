#if canImport(Glibc)
import Glibc
#endif
import CLinuxShim
import SystemSupport

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

    /// Brings `count` bytes at `offset` into the page cache and waits until they are there
    /// (blocking: call it on a thread pool), so that a later `sendfile` of them does not block.
    public func readAhead(at offset: Int64, count: Int64) {
        _ = berth_read_ahead(rawValue, offset, count)
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

/// Filesystem helpers of the filesystem driver (blocking: called on its threads).
enum FileSystem {
    /// Size and modification time of a regular file; nil when there is none.
    static func info(_ path: String) -> StorageFileInfo? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return StorageFileInfo(size: Int64(info.st_size), modified: Int64(info.st_mtim.tv_sec))
    }

    /// A small file whole; nil when absent or larger than `limit`.
    static func readAll(_ path: String, limit: Int) throws -> [UInt8]? {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, O_RDONLY)
        } catch let error as SystemError where error.errno == ENOENT || error.errno == ENOTDIR {
            return nil
        }
        defer { file.close() }
        let size = try file.size()
        guard size <= limit else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        var offset = 0
        while offset < bytes.count {
            let read = try bytes.withUnsafeMutableBytes { buffer in
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]), at: Int64(offset))
            }
            if read == 0 { break }
            offset += read
        }
        return offset == bytes.count ? bytes : nil
    }

    static func list(_ directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes a file or a directory tree; absent is fine.
    static func removeTree(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw SystemError("lstat(\(path))", errno)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in list(path) { try removeTree("\(path)/\(name)") }
            if rmdir(path) != 0 && errno != ENOENT { throw SystemError("rmdir(\(path))", errno) }
        } else if unlink(path) != 0 && errno != ENOENT {
            throw SystemError("unlink(\(path))", errno)
        }
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
