import Metrics
import Prometheus

/// Makes swift-metrics report to a Prometheus registry, with Distribution's histogram buckets.
/// Process-wide (swift-metrics has one factory): `serve` calls it once, before building the
/// application, when `http.debug.prometheus.enabled` is set.
public enum MetricsBootstrap {
    public static func prometheus() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = HTTPMetrics.durationBuckets.map { .milliseconds(Int64($0 * 1000)) }
        factory.defaultValueHistogramBuckets = HTTPMetrics.sizeBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }
}
