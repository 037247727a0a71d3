import OCI

/// The whole storage layout, drawn once; every path is relative to the driver's root.
///
/// ```
/// docker/registry/v2/blobs/<alg>/<first 2 hex>/<hex>/data   blob and manifest bytes, exactly where
///                                                          CNCF Distribution keeps them
/// docker/registry/v2/repositories/...                      Distribution's link files (read by
///                                                          `import`, never written)
/// berth/metadata.sqlite                                    the SQLite metadata (filesystem only)
/// berth/uploads/<uuid>                                     upload sessions' data and temp files
/// ```
/// Uploads live under the same root as the blobs, so committing one is a `move` within the driver.
public enum StorageLayout {
    public static let distributionRoot = "docker/registry/v2"
    public static let blobsRoot = "\(distributionRoot)/blobs"
    public static let repositoriesRoot = "\(distributionRoot)/repositories"
    public static let berthDirectory = "berth"
    public static let metadataDatabase = "\(berthDirectory)/metadata.sqlite"
    public static let uploadsDirectory = "\(berthDirectory)/uploads"

    /// The directory holding one blob's `data`: the level garbage collection removes. The
    /// `<alg>/<xx>` levels above it are never removed, so a commit never races their removal.
    public static func blobDirectory(_ digest: Digest) -> String {
        "\(blobsRoot)/\(digest.algorithm.rawValue)/\(digest.hex.prefix(2))/\(digest.hex)"
    }

    public static func blobData(_ digest: Digest) -> String { "\(blobDirectory(digest))/data" }

    /// `id` must be an `UploadID` (checked at the edge), never raw request text.
    public static func uploadData(_ id: UploadID) -> String { "\(uploadsDirectory)/\(id.value)" }

    /// A file for one monolithic upload or manifest before it is moved into place.
    public static func temporaryFile(_ id: UploadID) -> String { "\(uploadsDirectory)/tmp-\(id.value)" }
}
