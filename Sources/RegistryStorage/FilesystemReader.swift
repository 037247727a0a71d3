#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import SystemSupport

/// A `StorageReader` of one open file, reading chunk by chunk on the driver's threads.
///
/// `@unchecked Sendable`: one consumer reads it, each call awaited before the next.
final class FilesystemReader: LocalFileReader, @unchecked Sendable {
    /// Bytes read per chunk: one response write each.
    static let chunkSize = 1 << 20

    private let file: FileDescriptor
    private let pool: NIOThreadPool
    let size: Int64
    private var offset: Int64 = 0
    private var end: Int64
    private var closed = false

    init(file: FileDescriptor, size: Int64, pool: NIOThreadPool) {
        self.file = file
        self.size = size
        self.end = size
        self.pool = pool
    }

    deinit {
        if !closed { file.close() }
    }

    func limit(to range: Range<Int64>) {
        offset = max(0, range.lowerBound)
        end = min(size, range.upperBound)
    }

    func next() async throws -> ByteBuffer? {
        guard offset < end else { return nil }
        let wanted = Int(min(Int64(Self.chunkSize), end - offset))
        let start = offset
        let buffer = try await pool.runIfActive { [file] in
            var buffer = ByteBufferAllocator().buffer(capacity: wanted)
            let read = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { raw in
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[..<wanted]), at: start)
            }
            guard read > 0 else { throw SystemError("pread(\(file.path)): unexpected end of file", EIO) }
            return buffer
        }
        offset += Int64(buffer.readableBytes)
        return buffer
    }

    func detachFile() -> (file: FileDescriptor, range: Range<Int64>)? {
        guard !closed else { return nil }
        closed = true
        return (file, offset..<end)
    }

    func close() async {
        guard !closed else { return }
        closed = true
        file.close()
    }
}
