import HTTPTypes
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// What metrics and the access log keep of one finished request: the raw parts, nothing
/// formatted or looked up yet.
///
/// A class: it is handed from the request to the batch and read there, and one reference
/// costs one retain where a struct of these fields costs one per field at every copy.
///
/// It keeps the response's size, not its headers: the server adds `Date` to those after the
/// responder returns, and a second reference to them here would make that a copy of them all.
final class RequestRecord: Sendable {
    let handler: HTTPMetrics.Handler
    let head: HTTPRequest
    let status: Int
    /// The response's `Content-Length`, if it had one.
    let responseSize: Int?
    let nanoseconds: Int64
    let remoteAddress: SocketAddress?
    let user: String?
    /// The request's number (`RegistryRequestContext.number`), from which its id is formatted.
    let number: UInt64

    init(handler: HTTPMetrics.Handler, head: HTTPRequest, status: Int, responseSize: Int?, nanoseconds: Int64,
         remoteAddress: SocketAddress?, user: String?, number: UInt64) {
        self.handler = handler
        self.head = head
        self.status = status
        self.responseSize = responseSize
        self.nanoseconds = nanoseconds
        self.remoteAddress = remoteAddress
        self.user = user
        self.number = number
    }
}

/// Gathers finished requests and hands them to the HTTP metrics and the access log in batches,
/// about every 100 ms, on a thread of the pool for blocking work.
///
/// A request's own task only appends its record under one lock. Header lookups, the metric
/// objects' locks and histogram buckets, and the access log's formatting and `write` are done
/// for a whole batch at once, off the request's path: per request they cost a manifest GET
/// about a fifth of its CPU time. Metrics and log lines therefore trail the requests by up to
/// 100 ms (the in-flight gauge is counted live, see `HTTPMetrics`), and a `kill -9` may lose the
/// last 100 ms of access-log lines.
final class RequestRecorder: Service, Sendable {
    let metrics: HTTPMetrics?
    let accessLog: AccessLog?

    private let pending = Mutex<[RequestRecord]>([])
    /// Past this many records (about 1 MiB; half a second of the fastest request rate measured
    /// here) a request applies the batch itself, so memory stays bounded under any load.
    static let batchLimit = 16384

    init(metrics: HTTPMetrics?, accessLog: AccessLog?) {
        self.metrics = metrics
        self.accessLog = accessLog
    }

    func add(_ record: RequestRecord) {
        let full = pending.withLock { pending -> [RequestRecord]? in
            pending.append(record)
            guard pending.count >= Self.batchLimit else { return nil }
            return Self.take(&pending)
        }
        if let full { apply(full) }
    }

    /// Applies what was gathered, about every 100 ms, until the server stops; then the rest.
    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await pause(.milliseconds(100))
            try? await NIOThreadPool.singleton.runIfActive { self.flush() }
        }
        flush()
    }

    func flush() {
        let batch = pending.withLock { Self.take(&$0) }
        if !batch.isEmpty { apply(batch) }
    }

    private static func take(_ pending: inout [RequestRecord]) -> [RequestRecord] {
        var batch: [RequestRecord] = []
        batch.reserveCapacity(pending.count)
        swap(&batch, &pending)
        return batch
    }

    private func apply(_ batch: [RequestRecord]) {
        var seen = Array(repeating: false, count: HTTPMetrics.Handler.allCases.count)
        var out: [UInt8] = []
        if accessLog != nil { out.reserveCapacity(batch.count * 200) }
        for record in batch {
            if let metrics {
                seen[record.handler.rawValue] = true
                metrics.finished(record.handler, method: HTTPMetrics.methodIndex(record.head.method.rawValue),
                                 code: record.status, nanoseconds: record.nanoseconds,
                                 requestSize: record.head.headerFields[.contentLength].flatMap { Int($0) },
                                 responseSize: record.responseSize)
            }
            accessLog?.append(record, to: &out)
        }
        metrics?.publishInFlight(seen: seen)
        if !out.isEmpty { AccessLog.writeOut(out) }
    }
}

extension AccessLog.Entry {
    init(_ record: RequestRecord) {
        let head = record.head
        self.init(remoteAddress: record.remoteAddress?.ipAddress ?? "-", user: record.user, method: head.method.rawValue,
                  uri: String((head.path ?? "").prefix(2048)), status: record.status,
                  bytes: record.responseSize,
                  referer: head.headerFields[.referer], userAgent: head.headerFields[.userAgent],
                  nanoseconds: record.nanoseconds, requestID: RegistryRequestContext.requestID(record.number))
    }
}
