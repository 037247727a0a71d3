#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// A `StorageWriter` appending to one file from the driver's threads.
///
/// `@unchecked Sendable`: one caller uses a writer at a time, each call awaited before the next.
final class FilesystemWriter: StorageWriter, @unchecked Sendable {
    private let file: FileDescriptor
    private let start: Int64
    private let isNew: Bool
    /// The file's directory entry is new and must survive a crash with the committed bytes (an
    /// upload session's file, created with its first chunk).
    private let syncsDirectory: Bool
    private let pool: NIOThreadPool
    private var size: Int64
    private var writebackStart: Int64
    private var closed = false
    /// Dirty bytes after which writeback is started early (keeps the final fsync short).
    private static let writebackInterval: Int64 = 8 << 20

    init(file: FileDescriptor, start: Int64, isNew: Bool, syncsDirectory: Bool, pool: NIOThreadPool) {
        self.file = file
        self.start = start
        self.isNew = isNew
        self.syncsDirectory = syncsDirectory
        self.pool = pool
        self.size = start
        self.writebackStart = start
    }

    deinit {
        if !closed { file.close() }
    }

    func write(_ buffer: ByteBuffer) async throws {
        guard buffer.readableBytes > 0 else { return }
        try await pool.runIfActive { [self] in
            try buffer.withUnsafeReadableBytes { try file.writeAll($0) }
            size += Int64(buffer.readableBytes)
            if size - writebackStart >= Self.writebackInterval {
                file.startWriteback(offset: writebackStart, count: size - writebackStart)
                writebackStart = size
            }
        }
    }

    func commit() async throws {
        try await pool.runIfActive { [self] in
            defer { close() }
            try file.sync()
            if syncsDirectory { try FileSystem.syncDirectory(FileSystem.parentDirectory(file.path)) }
        }
    }

    /// After a commit, only a new file is removed (an upload session's committed bytes stay).
    func cancel() async {
        _ = try? await pool.runIfActive { [self] in
            if isNew {
                FileSystem.remove(file.path)
            } else if !closed {
                try? file.truncate(to: start)
            }
            close()
        }
    }

    private func close() {
        guard !closed else { return }
        closed = true
        file.close()
    }
}
