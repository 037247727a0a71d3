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
    /// The running digest of the first `size` bytes (`DigestHasher.savedState`), so the next
    /// chunk carries on from it in any process, without reading the bytes back; nil when unknown.
    public var digestState: [UInt8]?

    public init(id: String, repository: RepositoryName, size: Int64, createdAt: Int64, digestState: [UInt8]? = nil) {
        self.id = id
        self.repository = repository
        self.size = size
        self.createdAt = createdAt
        self.digestState = digestState
    }
}

/// A blob as linked into one repository, with its garbage-collection protection.
public struct BlobLink: Sendable, Equatable {
    public var size: Int64
    /// Seconds since 1970 until which no sweep removes the blob (upload, `HEAD`, mount).
    public var protectedUntil: Int64

    public init(size: Int64, protectedUntil: Int64) {
        self.size = size
        self.protectedUntil = protectedUntil
    }
}

/// A tag with the times retention rules look at (seconds since 1970).
public struct TagRecord: Sendable, Equatable {
    public var name: Tag
    public var digest: Digest
    public var pushedAt: Int64
    public var pulledAt: Int64?

    public init(name: Tag, digest: Digest, pushedAt: Int64, pulledAt: Int64?) {
        self.name = name
        self.digest = digest
        self.pushedAt = pushedAt
        self.pulledAt = pulledAt
    }
}

/// What a manifest references, and which of it must already be in the repository.
public struct ManifestReferences: Sendable, Equatable {
    /// Config and layers, recorded so that garbage collection keeps them.
    public var blobs: [Digest]
    /// Those of `blobs` that must be linked to the repository.
    public var requiredBlobs: [Digest]
    /// Child manifests of an index, recorded whether present or not (a sparse index).
    public var children: [Digest]
    /// Those of `children` that must be in the repository.
    public var requiredChildren: [Digest]

    public init(blobs: [Digest] = [], requiredBlobs: [Digest]? = nil, children: [Digest] = [], requiredChildren: [Digest]? = nil) {
        self.blobs = blobs
        self.requiredBlobs = requiredBlobs ?? blobs
        self.children = children
        self.requiredChildren = requiredChildren ?? children
    }
}

/// A change the store refused because of what it found inside the transaction.
public enum MetadataConflict: Error, Equatable {
    /// A blob the manifest references is not linked to the repository (or is being removed).
    case blobUnknown(Digest)
    /// A child manifest of an index is not in the repository.
    case manifestUnknown(Digest)
    /// The tag is immutable and would move or go; carries the rule's description.
    case tagImmutable(Tag, rule: String)
    /// The blob is being removed by a sweep right now: wait and claim it again.
    case blobBeingRemoved(Digest)
    /// The manifest's own content is not stored yet (a first push): store it, then record again.
    case contentNotStored(Digest)
}

/// Decides whether a tag of a repository may not move or go; nil when it may, else the rule.
public typealias TagGuard = @Sendable (RepositoryName, Tag) -> String?
