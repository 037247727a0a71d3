import Foundation
import NIOCore

/// Streams a region of a file as buffers of `chunkSize`, for upload bodies.
///
/// The file is opened when iteration starts and closed when it ends or the iterator is dropped,
/// so memory stays at one chunk whatever the file's size.
public struct FileByteStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public let path: String
    public let offset: Int64
    public let length: Int64
    public let chunkSize: Int

    public init(path: String, offset: Int64 = 0, length: Int64, chunkSize: Int = 1 << 20) {
        self.path = path
        self.offset = offset
        self.length = length
        self.chunkSize = chunkSize
    }

    /// Owns the descriptor so it is closed however iteration ends.
    final class Handle {
        let fd: Int32
        init(fd: Int32) { self.fd = fd }
        deinit { close(fd) }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: FileByteStream
        var handle: Handle?
        var position: Int64
        let allocator = ByteBufferAllocator()

        public mutating func next() async throws -> ByteBuffer? {
            let remaining = stream.offset + stream.length - position
            guard remaining > 0 else { handle = nil; return nil }
            if handle == nil {
                let fd = open(stream.path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: stream.path]) }
                handle = Handle(fd: fd)
            }
            guard let fd = handle?.fd else { return nil }
            let want = Int(Swift.min(Int64(stream.chunkSize), remaining))
            var buffer = allocator.buffer(capacity: want)
            let position = self.position
            let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { ptr in
                var n: Int
                repeat { n = pread(fd, ptr.baseAddress, want, off_t(position)) } while n < 0 && errno == EINTR
                return Swift.max(n, 0)
            }
            guard got > 0 else {
                throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: stream.path])
            }
            self.position += Int64(got)
            return buffer
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(stream: self, handle: nil, position: offset)
    }
}
