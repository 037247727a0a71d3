import Foundation
import OCI
import SystemSupport

/// Saves stored images as an OCI image layout tar, and loads such archives or `docker save` ones.
///
/// Saved `index.json` entries carry the tag in `org.opencontainers.image.ref.name` (as the
/// layout spec intends) and the full name in `io.containerd.image.name` (as `docker save` does).
/// Loading verifies every blob against its digest before it enters the store.
/// See https://github.com/opencontainers/image-spec/blob/main/image-layout.md
public struct LayoutArchive: Sendable {
    public let store: ImageStore
    static let containerdName = "io.containerd.image.name"

    public init(store: ImageStore) { self.store = store }

    /// Writes `references` (with all blobs they reach) to a tar file at `path`, atomically.
    public func save(_ references: [ImageReference], to path: String) throws {
        let staging = store.temporaryPath(".layout")
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try FileManager.default.createDirectory(atPath: staging + "/blobs/sha256", withIntermediateDirectories: true)
        var entries: [Descriptor] = []
        var blobs: Set<Digest> = []
        for reference in references {
            guard var descriptor = try store.resolve(reference) else { throw StoreError.imageUnknown(reference.description) }
            var annotations = [Self.containerdName: reference.description]
            if let tag = reference.tag { annotations[ImageStore.refNameAnnotation] = tag.value }
            descriptor.annotations = annotations
            entries.append(descriptor)
            blobs.formUnion(try store.reachableBlobs(from: descriptor))
        }
        for digest in blobs where store.hasBlob(digest) {
            let target = "\(staging)/blobs/sha256/\(digest.hex)"
            if link(store.blobPath(digest), target) != 0 {
                try FileManager.default.copyItem(atPath: store.blobPath(digest), toPath: target)
            }
        }
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: URL(fileURLWithPath: staging + "/oci-layout"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(ImageIndex(mediaType: MediaType.ociIndex, manifests: entries))
            .write(to: URL(fileURLWithPath: staging + "/index.json"))
        let partial = path + ".partial"
        try Subprocess.run(["/bin/tar", "--numeric-owner", "-C", staging, "-cf", partial, "oci-layout", "index.json", "blobs"])
        try POSIX.rename(partial, path)
    }

    /// Loads an archive; returns the names it stored.
    public func load(from path: String) throws -> [String] {
        let lease = try store.writerLease()
        defer { withExtendedLifetime(lease) {} }
        let staging = store.temporaryPath(".load")
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        try Subprocess.run(["/bin/tar", "--no-same-owner", "-C", staging, "-xf", path])
        if FileManager.default.fileExists(atPath: staging + "/index.json") {
            let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            return try loadLayout(staging, fallbackRepository: stem)
        }
        if FileManager.default.fileExists(atPath: staging + "/manifest.json") {
            return try loadDockerSave(staging)
        }
        throw StoreError.badArchive("neither index.json (OCI layout) nor manifest.json (docker save) found")
    }

    /// Adopts every blob of an extracted OCI layout, then names its index entries.
    func loadLayout(_ dir: String, fallbackRepository: String) throws -> [String] {
        let blobDir = dir + "/blobs/sha256"
        for file in (try? FileManager.default.contentsOfDirectory(atPath: blobDir)) ?? [] {
            let expected = try Digest("sha256:" + file)
            _ = try store.adoptFile("\(blobDir)/\(file)", expected: expected)
        }
        guard let data = FileManager.default.contents(atPath: dir + "/index.json") else {
            throw StoreError.badArchive("index.json unreadable")
        }
        let index = try JSONDecoder().decode(ImageIndex.self, from: data)
        var names: [String] = []
        for entry in index.manifests {
            guard store.hasBlob(entry.digest) else { throw StoreError.blobMissing(entry.digest) }
            let reference = try name(for: entry, fallbackRepository: fallbackRepository)
            var descriptor = entry
            descriptor.annotations = nil
            try store.setReference(reference, to: descriptor)
            names.append(reference.description)
        }
        return names
    }

    /// The full name from `io.containerd.image.name`, a full `ref.name`, or
    /// `localhost/<archive name>:<ref.name>` when the archive holds only a tag.
    func name(for entry: Descriptor, fallbackRepository: String) throws -> ImageReference {
        if let full = entry.annotations?[Self.containerdName], let ref = try? ImageReference(parsing: full) { return ref }
        let refName = entry.annotations?[ImageStore.refNameAnnotation]
        if let refName, refName.contains("/") || refName.contains(":"), let ref = try? ImageReference(parsing: refName) { return ref }
        let repository = fallbackRepository.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
        let base = try ImageReference(host: "localhost", repository: repository.isEmpty ? "loaded" : repository, tag: "latest")
        if let refName { return (try? base.withTag(refName)) ?? base }
        return base.onlyDigest(entry.digest)
    }

    /// Converts a `docker save` directory (manifest.json, config JSON, layer tars) into
    /// Docker schema 2 manifests in the store.
    func loadDockerSave(_ dir: String) throws -> [String] {
        struct Entry: Decodable {
            var Config: String
            var RepoTags: [String]?
            var Layers: [String]
        }
        guard let data = FileManager.default.contents(atPath: dir + "/manifest.json") else {
            throw StoreError.badArchive("manifest.json unreadable")
        }
        let entries = try JSONDecoder().decode([Entry].self, from: data)
        var adopted: [String: (Digest, Int64)] = [:]
        func adopt(_ relative: String) throws -> (Digest, Int64) {
            if let known = adopted[relative] { return known }
            guard !relative.contains(".."), !relative.hasPrefix("/") else { throw StoreError.badArchive("bad path \(relative)") }
            let result = try store.adoptFile(dir + "/" + relative)
            adopted[relative] = result
            return result
        }
        var names: [String] = []
        for entry in entries {
            let (configDigest, configSize) = try adopt(entry.Config)
            let layers = try entry.Layers.map { layer -> Descriptor in
                let (digest, size) = try adopt(layer)
                return Descriptor(mediaType: MediaType.dockerLayer, digest: digest, size: size)
            }
            let manifest = ImageManifest(
                mediaType: MediaType.dockerManifest,
                config: Descriptor(mediaType: MediaType.dockerConfig, digest: configDigest, size: configSize),
                layers: layers)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let descriptor = try store.writeBlob(Array(try encoder.encode(manifest)), mediaType: MediaType.dockerManifest)
            for tag in entry.RepoTags ?? [] {
                let reference = try ImageReference(parsing: tag)
                try store.setReference(reference, to: descriptor)
                names.append(reference.description)
            }
        }
        return names
    }
}
