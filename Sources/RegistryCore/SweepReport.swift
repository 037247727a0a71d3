import Foundation
import OCI
import RegistryMetadata

/// What one garbage-collection sweep removed (or would have, in a dry run).
public struct SweepReport: Sendable {
    public var dryRun: Bool
    /// Tags retention removed; `retentionDryRun` when they were only reported.
    public var tags: [SweepPlan.RemovedTag] = []
    public var retentionDryRun = false
    public var manifests: [SweepPlan.RemovedManifest] = []
    /// Unreferenced blobs, files left by an interrupted sweep, and orphan files.
    public var blobs: [SweepPlan.RemovedBlob] = []
    public var duration: TimeInterval = 0

    public var bytesFreed: Int64 { blobs.reduce(0) { $0 + $1.size } }

    /// One line per removal, as `garbage-collect` prints them.
    public var lines: [String] {
        let verb = dryRun ? "would remove" : "removed"
        let tagVerb = dryRun || retentionDryRun ? "would remove" : "removed"
        return tags.map { "\(tagVerb) tag \($0.repository):\($0.tag)" }
            + manifests.map { "\(verb) manifest \($0.repository)@\($0.digest)" }
            + blobs.map { "\(verb) blob \($0.digest) (\($0.size) bytes)" }
    }

    /// The summary line of the sweep.
    public var summary: String {
        let seconds = String(format: "%.2fs", duration)
        if dryRun {
            return "gc (dry run): would remove \(manifests.count) manifests, \(blobs.count) blobs, \(bytesFreed) bytes in \(seconds)"
        }
        return "gc: removed \(manifests.count) manifests, \(blobs.count) blobs, \(bytesFreed) bytes freed in \(seconds)"
    }
}
