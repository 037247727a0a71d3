import Metrics
import RegistryMetadata

/// Berth's own metrics of garbage collection and of what the registry holds, reported through
/// swift-metrics (a no-op unless the server bootstrapped a backend).
enum GarbageCollectionMetrics {
    static func record(_ report: SweepReport) {
        Counter(label: "registry_gc_runs_total").increment()
        Metrics.Timer(label: "registry_gc_run_duration_seconds").recordNanoseconds(Int64(report.duration * 1e9))
        Counter(label: "registry_gc_deleted_total", dimensions: [("type", "manifest")]).increment(by: report.manifests.count)
        Counter(label: "registry_gc_deleted_total", dimensions: [("type", "blob")]).increment(by: report.blobs.count)
        if !report.retentionDryRun {
            Counter(label: "registry_gc_deleted_total", dimensions: [("type", "tag")]).increment(by: report.tags.count)
        }
        Counter(label: "registry_gc_deleted_bytes_total").increment(by: Int(report.bytesFreed))
    }

    static func record(_ statistics: MetadataStatistics) {
        Gauge(label: "registry_storage_bytes").record(statistics.storedBytes)
        Gauge(label: "registry_repositories").record(statistics.repositories)
        Gauge(label: "registry_uploads_in_progress").record(statistics.uploadsInProgress)
    }
}

extension Registry {
    /// Refreshes the gauges of what the registry holds (after each sweep and at start-up).
    public func recordStatistics() async {
        do {
            GarbageCollectionMetrics.record(try await metadata.statistics())
        } catch {
            logger.warning("statistics not read", metadata: ["error": "\(error)"])
        }
    }
}
