import Metrics
import Synchronization

/// Distribution's HTTP metrics (`registry_http_*`), labelled by route name, never by repository.
///
/// The metric objects are made once per label set and kept: the factory behind swift-metrics
/// looks them up under a lock, which the hot path should not pay per request.
final class HTTPMetrics: Sendable {
    private struct Key: Hashable {
        let handler: String
        let method: String
        let code: Int
    }

    private struct PerRoute: Sendable {
        let duration: Metrics.Timer
        let requestSize: Recorder
        let responseSize: Recorder
    }

    private let counters = Mutex<[Key: Counter]>([:])
    private let perRoute = Mutex<[Key: PerRoute]>([:])
    private let inFlight = Mutex<[String: Meter]>([:])

    func started(_ handler: String) {
        meter(handler).increment()
    }

    func finished(_ handler: String, method: String, code: Int, nanoseconds: Int64, requestSize: Int?, responseSize: Int?,
                  wasInFlight: Bool) {
        if wasInFlight { meter(handler).decrement() }
        let key = Key(handler: handler, method: method, code: code)
        let counter = counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: "registry_http_requests_total",
                                  dimensions: [("code", "\(code)"), ("handler", handler), ("method", method)])
            counters[key] = counter
            return counter
        }
        counter.increment()
        let routeKey = Key(handler: handler, method: method, code: 0)
        let route = perRoute.withLock { routes in
            if let route = routes[routeKey] { return route }
            let dimensions = [("handler", handler), ("method", method)]
            let route = PerRoute(duration: Metrics.Timer(label: "registry_http_request_duration_seconds", dimensions: dimensions),
                                 requestSize: Recorder(label: "registry_http_request_size_bytes", dimensions: dimensions),
                                 responseSize: Recorder(label: "registry_http_response_size_bytes", dimensions: dimensions))
            routes[routeKey] = route
            return route
        }
        route.duration.recordNanoseconds(nanoseconds)
        route.requestSize.record(requestSize ?? 0)
        if let responseSize { route.responseSize.record(responseSize) }
    }

    private func meter(_ handler: String) -> Meter {
        inFlight.withLock { meters in
            if let meter = meters[handler] { return meter }
            let meter = Meter(label: "registry_http_in_flight_requests", dimensions: [("handler", handler)])
            meters[handler] = meter
            return meter
        }
    }
}
