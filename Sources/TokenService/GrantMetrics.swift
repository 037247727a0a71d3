import Foundation
import Hummingbird
import Metrics

/// berth-auth's metrics: `berth_auth_grants_total{outcome}` and
/// `berth_auth_request_duration_seconds{endpoint}`, through swift-metrics (a no-op until
/// `berth-auth serve` bootstraps its Prometheus registry).
enum GrantMetrics {
    enum Outcome: String {
        /// A token for everything asked.
        case issued
        /// A token, but for less than was asked (the ACL refused some actions).
        case denied
        /// Wrong user name or password, or an unknown refresh token.
        case badCredentials = "bad_credentials"
        /// Refused by the failed-login limiter.
        case throttled
        /// A malformed request (unknown service, bad scope, missing parameters).
        case invalid
    }

    static func record(_ outcome: Outcome) {
        Counter(label: "berth_auth_grants_total", dimensions: [("outcome", outcome.rawValue)]).increment()
    }

    /// The outcome of a refused token request, from its status.
    static func record(refusal status: HTTPResponse.Status) {
        switch status {
        case .unauthorized: record(.badCredentials)
        case .tooManyRequests: record(.throttled)
        default: record(.invalid)
        }
    }

    static func timed(_ endpoint: String, _ body: () async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        defer {
            let elapsed = (ContinuousClock.now - start).components
            Metrics.Timer(label: "berth_auth_request_duration_seconds", dimensions: [("endpoint", endpoint)])
                .recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        }
        do {
            return try await body()
        } catch let failure as TokenEndpoint.Failure {
            record(refusal: failure.status)
            throw failure
        }
    }
}
