/// An image manifest (OCI or Docker schema 2) as a client builds and reads it: a config and its
/// layers. (The registry's own view of a pushed manifest, checked and kept verbatim, is `Manifest`.)
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
