import NIOCore
import OCI

/// Receives progress events of blob transfers; the CLI draws bars or prints lines from them.
///
/// Implementations must be cheap and thread-safe: events arrive from parallel transfers.
public protocol TransferProgress: Sendable {
    /// A transfer of `total` bytes (resuming at `completed`) has started.
    func started(_ id: Digest, total: Int64, completed: Int64, label: String)
    /// `bytes` more bytes moved.
    func advanced(_ id: Digest, by bytes: Int64)
    /// The transfer ended; `note` says how ("done", "exists", "mounted").
    func finished(_ id: Digest, note: String)
    /// A line of information for the person (e.g. the final digest).
    func message(_ text: String)
}

/// Discards all progress.
public struct SilentProgress: TransferProgress {
    public init() {}
    public func started(_ id: Digest, total: Int64, completed: Int64, label: String) {}
    public func advanced(_ id: Digest, by bytes: Int64) {}
    public func finished(_ id: Digest, note: String) {}
    public func message(_ text: String) {}
}

/// Wraps an async sequence of buffers, reporting each buffer's size as it passes.
public struct CountingSequence<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable
where Base.Element == NIOCore.ByteBuffer {
    public typealias Element = NIOCore.ByteBuffer
    let base: Base
    let onBytes: @Sendable (Int64) -> Void

    public init(_ base: Base, onBytes: @escaping @Sendable (Int64) -> Void) {
        self.base = base
        self.onBytes = onBytes
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let onBytes: @Sendable (Int64) -> Void
        public mutating func next() async throws -> NIOCore.ByteBuffer? {
            guard let buffer = try await base.next() else { return nil }
            onBytes(Int64(buffer.readableBytes))
            return buffer
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), onBytes: onBytes)
    }
}
