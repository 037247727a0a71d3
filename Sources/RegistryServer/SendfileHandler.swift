import NIOCore
import RegistryStorage
import Synchronization

/// Sends blob bodies with `sendfile(2)` on plain HTTP when `http.sendfile` is on, so their bytes
/// never pass through user space. It sits below the HTTP/1 encoder, where writes are raw bytes.
///
/// Hummingbird's response bodies carry `ByteBuffer`s only, so a blob body writes, for each
/// region of its file, a small marker (a per-process random prefix and a token) registered here
/// first; when the marker arrives, in order with the head and the rest of the response, this
/// handler writes the registered `FileRegion` in its place. Anything else passes untouched. A
/// region whose marker never comes (the client went away) is dropped with the handler.
///
/// `@unchecked Sendable`: the blob body registers regions from its own task, under `pending`'s
/// lock; everything else runs on the channel's event loop.
final class SendfileHandler: ChannelOutboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// A range of a file registered for sending.
    struct Region: Sendable {
        let file: SharedFile
        let range: Range<Int64>
    }

    private let pending = Mutex<[UInt64: Region]>([:])
    private static let nextToken = Atomic<UInt64>(0)
    /// Random per process: no body the registry did not make itself can carry a marker.
    private static let prefix: [UInt8] = (0..<16).map { _ in UInt8.random(in: 0...255) }
    static let markerSize = 24

    /// Registers `range` of `file` and returns the marker to write in its place (with its token,
    /// for `cancel` if the write fails).
    func register(_ range: Range<Int64>, of file: SharedFile) -> (token: UInt64, marker: ByteBuffer) {
        let token = Self.nextToken.add(1, ordering: .relaxed).newValue
        pending.withLock { $0[token] = Region(file: file, range: range) }
        var marker = ByteBuffer()
        marker.reserveCapacity(Self.markerSize)
        marker.writeBytes(Self.prefix)
        marker.writeInteger(token)
        return (token, marker)
    }

    /// Forgets a region whose marker was not written.
    func cancel(_ token: UInt64) {
        _ = pending.withLock { $0.removeValue(forKey: token) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(let buffer) = unwrapOutboundIn(data), buffer.readableBytes == Self.markerSize,
              buffer.readableBytesView.starts(with: Self.prefix),
              let token = buffer.getInteger(at: buffer.readerIndex + Self.prefix.count, as: UInt64.self),
              let region = pending.withLock({ $0.removeValue(forKey: token) }) else {
            context.write(data, promise: promise)
            return
        }
        let fileRegion = FileRegion(fileHandle: region.file.handle, readerIndex: Int(region.range.lowerBound),
                                    endIndex: Int(region.range.upperBound))
        let written = context.eventLoop.makePromise(of: Void.self)
        // The file stays open until the kernel has sent the region (or the write failed).
        written.futureResult.whenComplete { _ in withExtendedLifetime(region.file) {} }
        written.futureResult.cascade(to: promise)
        context.write(wrapOutboundOut(.fileRegion(fileRegion)), promise: written)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        pending.withLock { $0.removeAll() }
    }
}

/// An open blob file shared by the regions of one response: closed when the last of them is
/// sent or dropped, and the body writer is done with it.
final class SharedFile: Sendable {
    let handle: NIOFileHandle
    let file: RegistryStorage.FileDescriptor

    init(takingOwnershipOf file: RegistryStorage.FileDescriptor) {
        self.file = file
        handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: file.rawValue)
    }

    deinit { try? handle.close() }
}
