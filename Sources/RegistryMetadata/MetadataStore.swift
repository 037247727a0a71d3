import OCI

/// What the registry records about one stored manifest.
public struct ManifestRecord: Sendable, Equatable {
    public var digest: Digest
    public var mediaType: String
    public var size: Int64
    public var artifactType: String?
    public var subject: Digest?
    /// The manifest's `annotations`, as JSON text (reported by the referrers API).
    public var annotationsJSON: String?

    public init(digest: Digest, mediaType: String, size: Int64, artifactType: String? = nil,
                subject: Digest? = nil, annotationsJSON: String? = nil) {
        self.digest = digest
        self.mediaType = mediaType
        self.size = size
        self.artifactType = artifactType
        self.subject = subject
        self.annotationsJSON = annotationsJSON
    }
}

/// A blob upload session, as persisted so that it survives a restart.
public struct UploadRecord: Sendable, Equatable {
    public var id: String
    public var repository: RepositoryName
    /// Bytes received and acknowledged so far; the file is truncated to this on resume.
    public var size: Int64
    /// Seconds since 1970 when the session started.
    public var createdAt: Int64

    public init(id: String, repository: RepositoryName, size: Int64, createdAt: Int64) {
        self.id = id
        self.repository = repository
        self.size = size
        self.createdAt = createdAt
    }
}

/// Names, tags, manifests, references, referrers and upload sessions of a registry.
///
/// Every mutating call is one transaction: a crash leaves either all of it or none.
/// SQLite now; PostgreSQL is the scale-out backend later, behind the same protocol.
public protocol MetadataStore: Sendable {
    // Blobs linked to a repository (what `GET /v2/<name>/blobs/<digest>` may serve).
    func linkBlob(_ digest: Digest, size: Int64, to repository: RepositoryName) throws
    func isBlobLinked(_ digest: Digest, in repository: RepositoryName) throws -> Bool
    /// Removes the link; false when there was none.
    func unlinkBlob(_ digest: Digest, from repository: RepositoryName) throws -> Bool

    // Manifests and tags.
    /// Records a manifest, its references and optionally a tag pointing at it, in one transaction.
    func putManifest(_ record: ManifestRecord, in repository: RepositoryName, blobs: [Digest],
                     children: [Digest], tag: Tag?) throws
    func manifest(_ reference: ManifestReference, in repository: RepositoryName) throws -> ManifestRecord?
    /// Digests of `candidates` that are stored manifests of the repository.
    func existingManifests(_ candidates: [Digest], in repository: RepositoryName) throws -> Set<Digest>
    /// Deletes a manifest and every tag pointing at it; false when unknown.
    func deleteManifest(_ digest: Digest, in repository: RepositoryName) throws -> Bool
    /// Deletes only the tag; false when unknown.
    func deleteTag(_ tag: Tag, in repository: RepositoryName) throws -> Bool
    func repositoryExists(_ repository: RepositoryName) throws -> Bool
    func tags(in repository: RepositoryName, after last: String?, limit: Int?) throws -> [String]
    func repositories(after last: String?, limit: Int?) throws -> [String]
    func referrers(of subject: Digest, in repository: RepositoryName, artifactType: String?) throws -> [ManifestRecord]

    // Upload sessions.
    func createUpload(_ upload: UploadRecord) throws
    func upload(_ id: String) throws -> UploadRecord?
    func setUploadSize(_ id: String, size: Int64) throws
    func deleteUpload(_ id: String) throws
    func uploads(startedBefore: Int64) throws -> [UploadRecord]
}
