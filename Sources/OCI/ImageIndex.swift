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
            guard MediaType.isImageManifest(d.mediaType), let p = d.platform else { return false }
            return platform.matches(p)
        }
    }
}
