/// Media types the client understands.
///
/// See https://github.com/opencontainers/image-spec/blob/main/media-types.md and
/// https://github.com/distribution/distribution/blob/main/docs/content/spec/manifest-v2-2.md
public enum MediaType {
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerTar = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar"

    /// Every manifest type, for the `Accept` header of manifest requests.
    public static let manifestTypes = [ociIndex, dockerManifestList, ociManifest, dockerManifest]

    /// Whether a media type names an index (multi-platform manifest list).
    public static func isIndex(_ type: String?) -> Bool {
        type == ociIndex || type == dockerManifestList
    }

    /// Whether a media type names a single-platform image manifest.
    public static func isManifest(_ type: String?) -> Bool {
        type == ociManifest || type == dockerManifest
    }
}
