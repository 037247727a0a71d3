import Foundation
import Logging
import OCI
import RegistryMetadata
import RegistryStorage

/// Builds berth's metadata from an existing CNCF Distribution storage root, without copying blobs.
///
/// Reads Distribution's link files (registry/storage/paths.go):
/// `repositories/<name>/_layers/<alg>/<hex>/link`, `_manifests/revisions/<alg>/<hex>/link` and
/// `_manifests/tags/<tag>/current/link`. Blobs stay where they are, so serving the same root
/// directory afterwards serves the old registry's content in place. Safe to run again.
public struct DistributionImporter {
    public struct Summary: Sendable, CustomStringConvertible {
        public var repositories = 0, blobs = 0, manifests = 0, tags = 0, skipped = 0
        public var description: String {
            "imported \(repositories) repositories, \(blobs) blob links, \(manifests) manifests, \(tags) tags (\(skipped) entries skipped)"
        }
    }

    let paths: StoragePaths
    let logger: Logger

    /// `directory` is a Distribution root (holding `docker/registry/v2`) or the `v2` directory itself.
    public init(directory: String, logger: Logger) throws {
        var root = directory
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        if root.hasSuffix("/docker/registry/v2") { root = String(root.dropLast("/docker/registry/v2".count)) }
        paths = StoragePaths(root: root.isEmpty ? "/" : root)
        guard FileManager.default.fileExists(atPath: "\(paths.distributionRoot)/repositories") else {
            throw ConfigurationError(problems: ["\(directory): no docker/registry/v2/repositories directory here"])
        }
        self.logger = logger
    }

    public var rootDirectory: String { paths.root }

    public func run() throws -> Summary {
        let blobs = try BlobStore(paths: paths)
        let metadata = try SQLiteMetadataStore(path: paths.metadataDatabase)
        var summary = Summary()
        let repositoriesRoot = "\(paths.distributionRoot)/repositories"
        for name in try repositoryNames(under: repositoriesRoot) {
            guard let repository = try? RepositoryName(name) else {
                logger.warning("skipping repository with an invalid name", metadata: ["name": "\(name)"])
                summary.skipped += 1
                continue
            }
            summary.repositories += 1
            let base = "\(repositoriesRoot)/\(name)"
            for digest in linkedDigests(in: "\(base)/_layers") where blobs.contains(digest) {
                try metadata.linkBlob(digest, size: blobs.size(of: digest) ?? 0, to: repository)
                summary.blobs += 1
            }
            var imported: [Digest: Manifest] = [:]
            for digest in linkedDigests(in: "\(base)/_manifests/revisions") {
                guard let bytes = try blobs.readAll(digest), let manifest = try? Manifest(bytes: bytes, contentType: nil) else {
                    summary.skipped += 1
                    continue
                }
                try metadata.putManifest(record(digest, manifest, size: bytes.count), in: repository,
                                         blobs: manifest.referencedBlobs.map(\.digest), children: manifest.manifests.map(\.digest), tag: nil)
                imported[digest] = manifest
                summary.manifests += 1
            }
            let tagsDirectory = "\(base)/_manifests/tags"
            for tagName in (try? FileManager.default.contentsOfDirectory(atPath: tagsDirectory)) ?? [] {
                guard let tag = try? Tag(tagName),
                      let digest = readLink("\(tagsDirectory)/\(tagName)/current/link"),
                      let manifest = imported[digest], let size = blobs.size(of: digest) else {
                    summary.skipped += 1
                    continue
                }
                try metadata.putManifest(record(digest, manifest, size: Int(size)), in: repository,
                                         blobs: [], children: [], tag: tag)
                summary.tags += 1
            }
        }
        return summary
    }

    private func record(_ digest: Digest, _ manifest: Manifest, size: Int) -> ManifestRecord {
        ManifestRecord(digest: digest, mediaType: manifest.mediaType, size: Int64(size),
                       artifactType: manifest.artifactType, subject: manifest.subject?.digest)
    }

    /// Repository names: every directory path under `root` that holds `_manifests` or `_layers`.
    private func repositoryNames(under root: String) throws -> [String] {
        var names: [String] = []
        func walk(_ relative: String) {
            let path = relative.isEmpty ? root : "\(root)/\(relative)"
            guard let children = try? FileManager.default.contentsOfDirectory(atPath: path) else { return }
            if children.contains("_manifests") || children.contains("_layers") { names.append(relative) }
            for child in children.sorted() where !child.hasPrefix("_") {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: "\(path)/\(child)", isDirectory: &isDirectory), isDirectory.boolValue {
                    walk(relative.isEmpty ? child : "\(relative)/\(child)")
                }
            }
        }
        walk("")
        return names
    }

    /// Digests named by `<dir>/<alg>/<hex>/link` files.
    private func linkedDigests(in directory: String) -> [Digest] {
        var digests: [Digest] = []
        for algorithm in Digest.Algorithm.allCases {
            let base = "\(directory)/\(algorithm.rawValue)"
            for hex in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] {
                if let digest = readLink("\(base)/\(hex)/link"), digest.hex == hex { digests.append(digest) }
            }
        }
        return digests
    }

    private func readLink(_ path: String) -> Digest? {
        guard let data = FileManager.default.contents(atPath: path), data.count < 200 else { return nil }
        return try? Digest(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
