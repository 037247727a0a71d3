import Metrics
import Synchronization

/// Distribution's HTTP metrics (`registry_http_*`), labelled by route name, never by repository.
///
/// The metric objects are made on first use of a label set and kept in arrays indexed by route
/// and method, so the hot path does no string hashing and no factory lookup (the factory behind
/// swift-metrics looks its objects up under a lock), and `/metrics` lists only what was used.
final class HTTPMetrics: Sendable {
    /// The `handler` label: the route's name as Distribution's metrics have it, never a repository.
    enum Handler: Int, CaseIterable, Sendable {
        case base, catalog, tags, manifest, blob, blobUpload, blobUploadChunk, referrers
        /// A path that names no route.
        case unknown

        init(_ route: RegistryRoute) {
            switch route {
            case .base: self = .base
            case .catalog: self = .catalog
            case .tags: self = .tags
            case .manifest: self = .manifest
            case .blob: self = .blob
            case .uploads: self = .blobUpload
            case .upload: self = .blobUploadChunk
            case .referrers: self = .referrers
            }
        }

        var label: String {
            switch self {
            case .blobUpload: "blob_upload"
            case .blobUploadChunk: "blob_upload_chunk"
            default: "\(self)"
            }
        }
    }

    /// The methods' label values (lower case, as Distribution's go-metrics writes them); the last is "other".
    static let methods = ["get", "head", "put", "post", "patch", "delete", "other"]

    private final class PerRoute: Sendable {
        let duration: Metrics.Timer
        let requestSize: Recorder
        let responseSize: Recorder
        /// `registry_http_requests_total` by status code, made on first use.
        let counters = Mutex<[Int: Counter]>([:])

        init(duration: Metrics.Timer, requestSize: Recorder, responseSize: Recorder) {
            self.duration = duration
            self.requestSize = requestSize
            self.responseSize = responseSize
        }
    }

    private let routes = Mutex<[PerRoute?]>(Array(repeating: nil, count: Handler.allCases.count * methods.count))
    /// Requests in progress per handler, counted live (a request's own task adds and removes
    /// itself) and copied to `registry_http_in_flight_requests` with each batch of finished ones.
    private let inFlight = Handler.allCases.map { _ in LiveCount() }

    private final class LiveCount: Sendable {
        let value = Atomic<Int>(0)
    }
    private let inFlightMeters = Mutex<[Meter?]>(Array(repeating: nil, count: Handler.allCases.count))

    private func route(_ handler: Handler, _ method: Int) -> PerRoute {
        routes.withLock { routes in
            let slot = handler.rawValue * Self.methods.count + method
            if let route = routes[slot] { return route }
            let dimensions = [("handler", handler.label), ("method", Self.methods[method])]
            let route = PerRoute(
                duration: Metrics.Timer(label: "registry_http_request_duration_seconds", dimensions: dimensions),
                requestSize: Recorder(label: "registry_http_request_size_bytes", dimensions: dimensions),
                responseSize: Recorder(label: "registry_http_response_size_bytes", dimensions: dimensions))
            routes[slot] = route
            return route
        }
    }

    static func methodIndex(_ method: String) -> Int {
        switch method {
        case "GET": 0
        case "HEAD": 1
        case "PUT": 2
        case "POST": 3
        case "PATCH": 4
        case "DELETE": 5
        default: 6
        }
    }

    func started(_ handler: Handler) {
        inFlight[handler.rawValue].value.add(1, ordering: .relaxed)
    }

    func ended(_ handler: Handler) {
        inFlight[handler.rawValue].value.subtract(1, ordering: .relaxed)
    }

    /// Sets the in-flight gauges from the live counts, for the handlers seen so far and those
    /// `seen` now (indexed by `Handler.rawValue`).
    func publishInFlight(seen: [Bool]) {
        inFlightMeters.withLock { meters in
            for handler in Handler.allCases {
                let count = inFlight[handler.rawValue].value.load(ordering: .relaxed)
                if meters[handler.rawValue] == nil {
                    guard count != 0 || seen[handler.rawValue] else { continue }
                    meters[handler.rawValue] = Meter(label: "registry_http_in_flight_requests",
                                                     dimensions: [("handler", handler.label)])
                }
                meters[handler.rawValue]?.set(count)
            }
        }
    }

    /// Records a finished request (called by `RequestRecorder`, in batches).
    func finished(_ handler: Handler, method: Int, code: Int, nanoseconds: Int64, requestSize: Int?, responseSize: Int?) {
        let route = route(handler, method)
        let counter = route.counters.withLock { counters in
            if let counter = counters[code] { return counter }
            let counter = Counter(label: "registry_http_requests_total", dimensions: [
                ("code", "\(code)"), ("handler", handler.label), ("method", Self.methods[method])])
            counters[code] = counter
            return counter
        }
        counter.increment()
        route.duration.recordNanoseconds(nanoseconds)
        route.requestSize.record(requestSize ?? 0)
        if let responseSize { route.responseSize.record(responseSize) }
    }
}
