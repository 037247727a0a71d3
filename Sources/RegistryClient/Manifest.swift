import Foundation

/// An image manifest (OCI or Docker schema 2): a config and its layers.
///
/// See https://github.com/opencontainers/image-spec/blob/main/manifest.md
public struct ImageManifest: Codable, Hashable, Sendable {
    /// Always 2.
    public var schemaVersion: Int
    /// `MediaType.ociManifest` or `MediaType.dockerManifest`; may be absent in OCI manifests.
    public var mediaType: String?
    /// Artifact type (OCI 1.1).
    public var artifactType: String?
    /// The image configuration blob.
    public var config: Descriptor
    /// The layers, base first.
    public var layers: [Descriptor]
    /// Subject, for referrers (OCI 1.1).
    public var subject: Descriptor?
    /// Free-form annotations.
    public var annotations: [String: String]?

    public init(mediaType: String = MediaType.ociManifest, config: Descriptor, layers: [Descriptor]) {
        self.schemaVersion = 2
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
    }

    /// Every blob the manifest refers to: config first, then layers.
    public var blobs: [Descriptor] { [config] + layers }
}

/// An image index (OCI) or manifest list (Docker): one manifest per platform.
///
/// See https://github.com/opencontainers/image-spec/blob/main/image-index.md
public struct ImageIndex: Codable, Hashable, Sendable {
    /// Always 2.
    public var schemaVersion: Int
    /// `MediaType.ociIndex` or `MediaType.dockerManifestList`.
    public var mediaType: String?
    /// The manifests, each usually with a platform.
    public var manifests: [Descriptor]
    /// Free-form annotations.
    public var annotations: [String: String]?

    public init(mediaType: String? = MediaType.ociIndex, manifests: [Descriptor], annotations: [String: String]? = nil) {
        self.schemaVersion = 2
        self.mediaType = mediaType
        self.manifests = manifests
        self.annotations = annotations
    }

    /// The manifest for a platform, if the index has one.
    public func manifest(for platform: Platform) -> Descriptor? {
        manifests.first { d in
            guard MediaType.isManifest(d.mediaType), let p = d.platform else { return false }
            return platform.matches(p)
        }
    }
}

/// Just enough of an image configuration to build and describe images.
///
/// See https://github.com/opencontainers/image-spec/blob/main/config.md
public struct ImageConfig: Codable, Sendable {
    /// The root filesystem's uncompressed layer digests.
    public struct RootFS: Codable, Sendable {
        public var type: String
        public var diffIDs: [Digest]
        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }
        public init(diffIDs: [Digest]) {
            self.type = "layers"
            self.diffIDs = diffIDs
        }
    }

    /// One line of `history`.
    public struct History: Codable, Sendable {
        public var created: String?
        public var createdBy: String?
        enum CodingKeys: String, CodingKey {
            case created
            case createdBy = "created_by"
        }
        public init(created: String?, createdBy: String?) {
            self.created = created
            self.createdBy = createdBy
        }
    }

    public var created: String?
    public var architecture: String
    public var os: String
    public var variant: String?
    public var rootfs: RootFS
    public var history: [History]?

    public init(created: String?, platform: Platform, rootfs: RootFS, history: [History]?) {
        self.created = created
        self.architecture = platform.architecture
        self.os = platform.os
        self.variant = platform.variant
        self.rootfs = rootfs
        self.history = history
    }
}

/// Reads a manifest body: either an image manifest or an index, told apart by media type.
public enum AnyManifest: Sendable {
    case image(ImageManifest)
    case index(ImageIndex)

    /// Decodes `bytes`, using `contentType` when the body has no `mediaType` field.
    public init(decoding bytes: [UInt8], contentType: String?) throws {
        struct Probe: Decodable { var mediaType: String?; var manifests: [Descriptor]? }
        let decoder = JSONDecoder()
        let probe = try decoder.decode(Probe.self, from: Data(bytes))
        let type = probe.mediaType ?? contentType
        if MediaType.isIndex(type) || (type == nil && probe.manifests != nil) {
            self = .index(try decoder.decode(ImageIndex.self, from: Data(bytes)))
        } else {
            self = .image(try decoder.decode(ImageManifest.self, from: Data(bytes)))
        }
    }
}
