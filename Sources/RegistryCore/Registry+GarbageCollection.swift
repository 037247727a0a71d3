import Foundation
import OCI
import RegistryMetadata
import RegistryStorage
#if canImport(Glibc)
import Glibc
#endif

/// Online garbage collection: one sweep removes the tags retention gives up, the manifests
/// nothing reaches (where configured) and every blob no manifest references, never anything
/// younger than the grace period or protected by a recent upload, `HEAD` or mount.
///
/// Order makes it crash-safe: the metadata transaction first removes rows and leaves a removal
/// mark per blob, then files are deleted, then marks cleared. A sweep killed anywhere leaves no
/// row pointing at a missing file; the next sweep deletes what was marked, and files found with
/// no row at all (orphans) once they are older than the grace period.
extension Registry {
    /// Runs one sweep. `dryRun` and `deleteUntagged` override the configuration when given.
    /// Throws `MaintenanceError` when another sweep (of this process or any other sharing the
    /// metadata) is running, after waiting up to `waitForLock` for it to end.
    /// Orphan files are looked for on a process's first sweep, after an interrupted one, every
    /// `OrphanScanSchedule.interval`, and always when `forceOrphanScan` (`garbage-collect`).
    public func collectGarbage(dryRun: Bool? = nil, deleteUntagged: Bool? = nil,
                               waitForLock: TimeInterval = 0, forceOrphanScan: Bool = false) async throws -> SweepReport {
        let deadline = Date().addingTimeInterval(waitForLock)
        var lock = try await metadata.tryLock(ExclusiveWork.garbageCollection)
        while lock == nil {
            guard Date() < deadline else { throw MaintenanceError("another garbage-collection sweep is running") }
            try await Task.sleep(for: .milliseconds(200))
            lock = try await metadata.tryLock(ExclusiveWork.garbageCollection)
        }
        do {
            let report = try await sweep(dryRun: dryRun, deleteUntagged: deleteUntagged, forceOrphanScan: forceOrphanScan)
            await lock?.release()
            return report
        } catch {
            await lock?.release()
            throw error
        }
    }

    private func sweep(dryRun: Bool?, deleteUntagged: Bool?, forceOrphanScan: Bool) async throws -> SweepReport {
        let started = Date()
        let gc = settings.garbageCollection
        let retention = settings.retention
        let dryRun = dryRun ?? gc.dryRun
        let untagged = deleteUntagged ?? gc.untagged
        let now = Self.now
        let cutoff = now - Int64(gc.delay.rounded(.up))
        var report = SweepReport(dryRun: dryRun)
        try await DistributionRootGuard.check(storage: storage, metadata: metadata)
        let failpoint = GarbageCollectionFailpoint()

        var resumesInterruptedSweep = false
        if !dryRun {
            // Left by a sweep that died before finishing: report only what is still to delete.
            for digest in try await metadata.pendingBlobRemovals() {
                resumesInterruptedSweep = true
                let info = try await storage.stat(StorageLayout.blobData(digest))
                try await removeBlobFile(digest, failpoint: failpoint)
                try await metadata.finishBlobRemovals([digest])
                if let info { report.blobs.append(.init(digest: digest, size: info.size)) }
            }
        }

        let retentionRule = retention.policies.isEmpty ? nil : Self.retentionRule(retention, immutable: settings.immutableTags, now: now)
        if let retentionRule, retention.dryRun {
            // Reported only; the real sweep below runs without retention.
            let preview = try await metadata.sweep(SweepRequest(now: now, cutoff: cutoff, removesUntagged: { _ in false },
                                                                retention: retentionRule, dryRun: true))
            report.tags = preview.tags
            report.retentionDryRun = true
        }
        let applyRetention = retention.dryRun ? nil : retentionRule
        let plan = try await metadata.sweep(SweepRequest(
            now: now, cutoff: cutoff,
            removesUntagged: { repository in
                untagged || (applyRetention != nil && retention.policy(for: repository)?.deleteUntagged == true)
            },
            retention: applyRetention, dryRun: dryRun))
        if !dryRun { tagCache.removeAll() }
        if applyRetention != nil { report.tags = plan.tags }
        report.manifests = plan.manifests
        if !dryRun {
            for batch in stride(from: 0, to: plan.blobs.count, by: Self.removalBatch).map({ plan.blobs[$0..<min($0 + Self.removalBatch, plan.blobs.count)] }) {
                try await removeBlobFiles(batch.map(\.digest), failpoint: failpoint)
                try await metadata.finishBlobRemovals(batch.map(\.digest))
            }
        }
        report.blobs += plan.blobs
        if orphanScans.isDue(force: forceOrphanScan || resumesInterruptedSweep) {
            report.blobs += try await removeOrphans(olderThan: cutoff, dryRun: dryRun, failpoint: failpoint)
        }
        report.duration = Date().timeIntervalSince(started)

        if !dryRun {
            publishRemovals(report)
            GarbageCollectionMetrics.record(report)
            await recordStatistics()
        }
        logger.info("gc sweep", metadata: [
            "manifests": "\(report.manifests.count)", "blobs": "\(report.blobs.count)", "bytes": "\(report.bytesFreed)",
            "tags": "\(report.tags.count)", "duration": "\(String(format: "%.3fs", report.duration))", "dryrun": "\(dryRun)"])
        return report
    }

    /// The tags of a repository its retention policy gives up; immutable tags are never among them.
    private static func retentionRule(_ retention: RetentionSettings, immutable rules: [ImmutableTagRule],
                                      now: Int64) -> @Sendable (RepositoryName, [TagRecord]) -> [Tag] {
        { repository, tags in
            guard let policy = retention.policy(for: repository) else { return [] }
            return policy.tagsToRemove(tags, now: now).filter { rules.rule(protecting: $0, in: repository) == nil }
        }
    }

    /// Blobs whose files are deleted per storage call (and whose marks are cleared per transaction).
    static let removalBatch = 256

    /// Deletes one blob's directory (its `data` file and the directory itself, never the levels
    /// above, which a commit may be creating a directory in).
    private func removeBlobFile(_ digest: Digest, failpoint: GarbageCollectionFailpoint) async throws {
        try await storage.delete(StorageLayout.blobDirectory(digest))
        failpoint.deleted()
    }

    /// Deletes blobs' directories in one storage call (one at a time while a failpoint counts).
    private func removeBlobFiles(_ digests: [Digest], failpoint: GarbageCollectionFailpoint) async throws {
        guard !failpoint.isArmed else {
            for digest in digests { try await removeBlobFile(digest, failpoint: failpoint) }
            return
        }
        try await storage.delete(digests.map(StorageLayout.blobDirectory))
    }

    /// Blob files with no row and no removal mark, older than the cutoff: left by a crash or
    /// written outside the API under Berth's paths.
    private func removeOrphans(olderThan cutoff: Int64, dryRun: Bool,
                               failpoint: GarbageCollectionFailpoint) async throws -> [SweepPlan.RemovedBlob] {
        var found: [Digest] = []
        for algorithm in Digest.Algorithm.allCases {
            let base = "\(StorageLayout.blobsRoot)/\(algorithm.rawValue)"
            for prefix in try await storage.list(base) {
                for hex in try await storage.list("\(base)/\(prefix)") {
                    if let digest = try? Digest("\(algorithm.rawValue):\(hex)"), digest.hex.hasPrefix(prefix) { found.append(digest) }
                }
            }
        }
        guard !found.isEmpty else { return [] }
        let known = try await metadata.knownBlobs(among: found)
        var orphans: [SweepPlan.RemovedBlob] = []
        for digest in found where !known.contains(digest) {
            let info = try await storage.stat(StorageLayout.blobData(digest))
            if let info, info.modified >= cutoff { continue }
            orphans.append(.init(digest: digest, size: info?.size ?? 0))
        }
        guard !dryRun, !orphans.isEmpty else { return orphans }
        let marked = Set(try await metadata.markOrphans(orphans.map(\.digest)))
        orphans = orphans.filter { marked.contains($0.digest) }
        try await removeBlobFiles(orphans.map(\.digest), failpoint: failpoint)
        try await metadata.finishBlobRemovals(orphans.map(\.digest))
        return orphans
    }

    private func publishRemovals(_ report: SweepReport) {
        for tag in report.tags where !report.retentionDryRun {
            events.publish(RegistryEvent(.gcRemoved, repository: tag.repository,
                                         target: .tag(tag.tag, digest: tag.digest, previous: tag.digest)))
        }
        for manifest in report.manifests {
            events.publish(RegistryEvent(.gcRemoved, repository: manifest.repository,
                                         target: .manifest(manifest.digest, mediaType: "", size: 0)))
        }
        for blob in report.blobs {
            events.publish(RegistryEvent(.gcRemoved, repository: nil, target: .blob(blob.digest, size: blob.size)))
        }
    }
}

/// `BERTH_FAILPOINT_GC_ABORT_AFTER_DELETES=N`: the process kills itself (SIGKILL) right after a
/// sweep's N-th file deletion, so tests can interrupt a sweep at an exact point.
///
/// `@unchecked Sendable`: `count` is only touched under `lock`.
final class GarbageCollectionFailpoint: @unchecked Sendable {
    private let limit: Int?
    private let lock = NSLock()
    private var count = 0

    var isArmed: Bool { limit != nil }

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        limit = environment["BERTH_FAILPOINT_GC_ABORT_AFTER_DELETES"].flatMap { Int($0) }
    }

    func deleted() {
        guard let limit else { return }
        let reached = lock.withLock { () -> Bool in
            count += 1
            return count >= limit
        }
        if reached { kill(getpid(), SIGKILL) }
    }
}

/// When a sweep also looks for orphan files (a walk over every blob directory, the costly part
/// of a sweep on a large root). Orphans appear only outside the commit protocol (a sweep killed
/// between its steps leaves marks instead, which every sweep finishes), so looking for them on a
/// process's first sweep, after an interrupted sweep and then daily is enough.
///
/// `@unchecked Sendable`: `lastScan` is only touched under `lock`.
final class OrphanScanSchedule: @unchecked Sendable {
    static let interval: TimeInterval = 24 * 3600
    private let lock = NSLock()
    private var lastScan: Date?

    /// True when a scan should run now (and records that it does).
    func isDue(force: Bool, now: Date = Date()) -> Bool {
        lock.withLock {
            guard force || lastScan.map({ now.timeIntervalSince($0) >= Self.interval }) ?? true else { return false }
            lastScan = now
            return true
        }
    }
}
