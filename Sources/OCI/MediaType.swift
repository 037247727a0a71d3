/// Media types of the manifests, configs and layers that registries and clients distinguish.
///
/// Spec: https://github.com/opencontainers/image-spec/blob/main/media-types.md and
/// distribution docs/spec/manifest-v2-2.md.
public enum MediaType {
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let ociEmpty = "application/vnd.oci.empty.v1+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    public static let dockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json"
    public static let json = "application/json"
    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let dockerLayer = "application/vnd.docker.image.rootfs.diff.tar"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let ociLayerNondistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar"
    public static let ociLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    public static let dockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    /// Manifest kinds a registry stores and serves.
    public static let manifestTypes: Set<String> = [ociManifest, ociIndex, dockerManifest, dockerManifestList]
    /// Media types whose content lists other manifests rather than blobs.
    public static let indexTypes: Set<String> = [ociIndex, dockerManifestList]
    /// Every manifest type, indexes first, for the `Accept` header of a client's manifest requests.
    public static let manifestTypesByPreference = [ociIndex, dockerManifestList, ociManifest, dockerManifest]

    /// Whether a media type names an index (multi-platform manifest list).
    public static func isIndex(_ type: String?) -> Bool { type.map(indexTypes.contains) ?? false }

    /// Whether a media type names a single-platform image manifest.
    public static func isImageManifest(_ type: String?) -> Bool {
        type == ociManifest || type == dockerManifest
    }
}

/// The well-known empty JSON descriptor `{}` that artifacts use as their config.
///
/// Spec: https://github.com/opencontainers/image-spec/blob/main/manifest.md#guidance-for-an-empty-descriptor
public enum EmptyJSON {
    public static let bytes: [UInt8] = Array("{}".utf8)
    public static let digest = DigestHasher.digest(of: bytes)
}
