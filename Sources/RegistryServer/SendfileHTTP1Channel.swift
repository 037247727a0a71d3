import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1 child channel with a `SendfileHandler` below its codec: what a plain
/// HTTP server uses with `http.sendfile: true` (over TLS the bytes must be encrypted in user
/// space, and this is not used).
struct SendfileHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let base: HTTP1Channel

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(SendfileHandler())
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
