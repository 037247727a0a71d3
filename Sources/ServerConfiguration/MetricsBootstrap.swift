import Metrics
import Prometheus

/// Makes swift-metrics report to a Prometheus registry, the one both servers expose.
/// Process-wide (swift-metrics has one factory): `serve` calls it once, before building its
/// application, and serves `registry.emit(into:)` on its metrics path.
public enum MetricsBootstrap {
    /// Distribution's (go-metrics') histogram buckets: seconds, and 1 KiB to 4 GiB.
    public static let durationBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60]
    public static let sizeBuckets: [Double] = (0..<22).map { 1024 * Double(1 << $0) }

    public static func prometheus() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets.map { .milliseconds(Int64($0 * 1000)) }
        factory.defaultValueHistogramBuckets = sizeBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// The registry's samples in Prometheus' text format.
    public static func exposition(_ registry: PrometheusCollectorRegistry) -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
