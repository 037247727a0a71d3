import Foundation
import Logging
import OCI
import RegistryMetadata
import RegistryStorage

/// Builds Berth's metadata from an existing CNCF Distribution storage root, without copying blobs.
///
/// Reads Distribution's link files (registry/storage/paths.go):
/// `repositories/<name>/_layers/<alg>/<hex>/link`, `_manifests/revisions/<alg>/<hex>/link` and
/// `_manifests/tags/<tag>/current/link`. Blobs stay where they are, so serving the same root
/// afterwards serves the old registry's content in place. Safe to run again. Records when it
/// started, so garbage collection can tell whether the tree changed since.
public struct DistributionImporter {
    public struct Summary: Sendable, CustomStringConvertible {
        public var repositories = 0, blobs = 0, manifests = 0, tags = 0, skipped = 0
        public var description: String {
            "imported \(repositories) repositories, \(blobs) blob links, \(manifests) manifests, \(tags) tags (\(skipped) entries skipped)"
        }
    }

    let registry: Registry
    var storage: any StorageDriver { registry.storage }
    var metadata: any MetadataStore { registry.metadata }
    var logger: Logger { registry.logger }

    public init(registry: Registry) {
        self.registry = registry
    }

    public func run() async throws -> Summary {
        let root = StorageLayout.repositoriesRoot
        guard !(try await storage.list(root)).isEmpty else {
            throw MaintenanceError("no docker/registry/v2/repositories directory with content here")
        }
        try await metadata.setSetting(DistributionRootGuard.importStartedKey, to: String(Registry.now))
        var summary = Summary()
        for name in try await repositoryNames(under: root) {
            guard let repository = try? RepositoryName(name) else {
                logger.warning("skipping repository with an invalid name", metadata: ["name": "\(name)"])
                summary.skipped += 1
                continue
            }
            summary.repositories += 1
            try await importRepository(repository, from: "\(root)/\(name)", into: &summary)
        }
        return summary
    }

    private func importRepository(_ repository: RepositoryName, from base: String, into summary: inout Summary) async throws {
        for digest in try await linkedDigests(in: "\(base)/_layers") {
            guard let info = try await storage.stat(StorageLayout.blobData(digest)) else { continue }
            try await record(digest, size: info.size, in: repository)
            summary.blobs += 1
        }
        var manifests: [(Digest, Manifest, Int64)] = []
        for digest in try await linkedDigests(in: "\(base)/_manifests/revisions") {
            guard let bytes = try await storage.readAll(StorageLayout.blobData(digest), limit: Manifest.maximumSize),
                  let manifest = try? Manifest(bytes: bytes, contentType: nil) else {
                summary.skipped += 1
                continue
            }
            try await record(digest, size: Int64(bytes.count), in: repository)
            manifests.append((digest, manifest, Int64(bytes.count)))
        }
        // Image manifests before the indexes that list them: children are checked on insert.
        manifests.sort { ($0.1.kind == .image ? 0 : 1) < ($1.1.kind == .image ? 0 : 1) }
        var imported = Set<Digest>()
        for (digest, manifest, size) in manifests {
            do {
                try await metadata.putManifest(Self.record(digest, manifest, size: size), in: repository,
                                               references: try registry.references(of: manifest), tags: [], contentPlaced: true, guard: { _, _ in nil })
                imported.insert(digest)
                summary.manifests += 1
            } catch where error is MetadataConflict || error is DistributionError {
                logger.warning("skipping manifest the registry would refuse", metadata: [
                    "repository": "\(repository)", "digest": "\(digest)", "reason": "\(error)"])
                summary.skipped += 1
            }
        }
        let tagsDirectory = "\(base)/_manifests/tags"
        for tagName in try await storage.list(tagsDirectory) {
            guard let tag = try? Tag(tagName),
                  let digest = try await readLink("\(tagsDirectory)/\(tagName)/current/link"),
                  imported.contains(digest), let (_, manifest, size) = manifests.first(where: { $0.0 == digest }) else {
                summary.skipped += 1
                continue
            }
            try await metadata.putManifest(Self.record(digest, manifest, size: size), in: repository,
                                           references: ManifestReferences(), tags: [tag], contentPlaced: true, guard: { _, _ in nil })
            summary.tags += 1
        }
    }

    /// Gives a blob already on storage its row and its link to the repository.
    private func record(_ digest: Digest, size: Int64, in repository: RepositoryName) async throws {
        try await metadata.claimBlob(digest, size: size, protectedUntil: 0)
        try await metadata.linkBlob(digest, size: size, to: repository, finishingUpload: nil)
    }

    private static func record(_ digest: Digest, _ manifest: Manifest, size: Int64) -> ManifestRecord {
        ManifestRecord(digest: digest, mediaType: manifest.mediaType, size: size,
                       artifactType: manifest.artifactType, subject: manifest.subject?.digest)
    }

    /// Repository names: every directory path under `root` that holds `_manifests` or `_layers`.
    private func repositoryNames(under root: String) async throws -> [String] {
        var names: [String] = []
        var pending = [""]
        while let relative = pending.popLast() {
            let path = relative.isEmpty ? root : "\(root)/\(relative)"
            let children = try await storage.list(path)
            if children.contains("_manifests") || children.contains("_layers") { names.append(relative) }
            for child in children.sorted(by: >) where !child.hasPrefix("_") {
                pending.append(relative.isEmpty ? child : "\(relative)/\(child)")
            }
        }
        return names.filter { !$0.isEmpty }.sorted()
    }

    /// Digests named by `<dir>/<alg>/<hex>/link` files.
    private func linkedDigests(in directory: String) async throws -> [Digest] {
        var digests: [Digest] = []
        for algorithm in Digest.Algorithm.allCases {
            let base = "\(directory)/\(algorithm.rawValue)"
            for hex in try await storage.list(base) {
                if let digest = try await readLink("\(base)/\(hex)/link"), digest.hex == hex { digests.append(digest) }
            }
        }
        return digests
    }

    private func readLink(_ path: String) async throws -> Digest? {
        guard let bytes = try await storage.readAll(path, limit: 200) else { return nil }
        return try? Digest(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
