import OCI

/// Names, blobs, tags, manifests, references, referrers and upload sessions of a registry.
///
/// Every mutating call is one transaction: a crash leaves either all of it or none. Each
/// transaction checks what it depends on inside itself (a manifest's blobs, an immutable tag, a
/// blob's pending removal), so it stays correct where writers are not serialised: in PostgreSQL
/// those reads take row locks (`FOR SHARE`/`FOR UPDATE`), where SQLite's single writer gives the
/// order for free. Implementations run their blocking work on threads of their own.
public protocol MetadataStore: Sendable {
    // MARK: Blobs

    /// Records that `digest` is about to be stored and protects it until `protectedUntil`;
    /// throws `MetadataConflict.blobBeingRemoved` while a sweep is deleting its file.
    func claimBlob(_ digest: Digest, size: Int64, protectedUntil: Int64) async throws
    /// Links a stored (claimed) blob to a repository; removes the upload session `upload` if given.
    /// `events` go to the outbox in the same transaction (as in every call that takes them).
    func linkBlob(_ digest: Digest, size: Int64, to repository: RepositoryName, finishingUpload upload: String?,
                  events: [EventPayload]) async throws
    /// The blob as linked to the repository; nil when it is not.
    func blobLink(_ digest: Digest, in repository: RepositoryName) async throws -> BlobLink?
    /// Extends a blob's protection to `until`; false when the blob is no longer known.
    func protectBlob(_ digest: Digest, until: Int64) async throws -> Bool
    /// Links a blob of `source` (any repository when nil) into `target` and protects it; nil when
    /// it cannot be mounted, else its size. `events` makes the mount's events from that size.
    func mountBlob(_ digest: Digest, from source: RepositoryName?, into target: RepositoryName,
                   protectedUntil: Int64, events: @escaping @Sendable (Int64) -> [EventPayload]) async throws -> Int64?
    /// Removes the link; false when there was none (and no event is written).
    func unlinkBlob(_ digest: Digest, from repository: RepositoryName, events: [EventPayload]) async throws -> Bool

    // MARK: Manifests and tags

    /// Records a manifest, its references and the tags pointing at it, in one transaction that
    /// first checks every required blob is linked to the repository, every required child manifest
    /// is in it, and that each tag may move (`guard`). Returns what each tag pointed at before.
    ///
    /// `contentPlaced`: the caller has just placed the manifest's bytes (after claiming them).
    /// Otherwise they must be stored already, or `MetadataConflict.contentNotStored` is thrown:
    /// a re-push or a new tag of a known manifest costs one transaction and no file access.
    @discardableResult
    func putManifest(_ record: ManifestRecord, in repository: RepositoryName, references: ManifestReferences,
                     tags: [Tag], contentPlaced: Bool, guard: @escaping TagGuard, events: [EventPayload]) async throws -> [Tag: Digest]
    func manifest(_ reference: ManifestReference, in repository: RepositoryName) async throws -> ManifestRecord?
    /// Deletes a manifest and every tag pointing at it unless `guard` protects one; false when unknown.
    func deleteManifest(_ digest: Digest, in repository: RepositoryName, guard: @escaping TagGuard,
                        events: [EventPayload]) async throws -> Bool
    /// Deletes only the tag unless `guard` protects it; returns the digest it pointed at, nil when
    /// unknown. `events` makes the deletion's events from that digest.
    func deleteTag(_ tag: Tag, in repository: RepositoryName, guard: @escaping TagGuard,
                   events: @escaping @Sendable (Digest) -> [EventPayload]) async throws -> Digest?
    /// Records a pull of the tag at `time`.
    func recordPull(of tag: Tag, in repository: RepositoryName, at time: Int64) async throws
    func repositoryExists(_ repository: RepositoryName) async throws -> Bool
    func tags(in repository: RepositoryName, after last: String?, limit: Int?) async throws -> [String]
    func repositories(after last: String?, limit: Int?) async throws -> [String]
    func referrers(of subject: Digest, in repository: RepositoryName, artifactType: String?) async throws -> [ManifestRecord]

    /// Totals of what the registry holds, for its gauges.
    func statistics() async throws -> MetadataStatistics

    // MARK: Event outbox

    /// Appends events in a transaction of their own (pull events, which are batched).
    func appendEvents(_ payloads: [EventPayload]) async throws
    /// Up to `limit` events after `sequence`, oldest first.
    func events(after sequence: Int64, limit: Int) async throws -> [OutboxEvent]
    /// How many events come after `sequence`.
    func eventCount(after sequence: Int64) async throws -> Int64
    /// Makes a cursor for each endpoint not seen before (at the outbox's end: a new endpoint does
    /// not get old events), drops the cursors of endpoints no longer configured, and returns
    /// where each endpoint has delivered up to.
    func prepareEventCursors(_ endpoints: [String]) async throws -> [String: Int64]
    /// Where `endpoint` has delivered up to (nil when it has no cursor): read again by the node
    /// that takes its deliveries over.
    func eventCursor(_ endpoint: String) async throws -> Int64?
    /// Records that `endpoint` has received every event up to `sequence`.
    func setEventCursor(_ endpoint: String, to sequence: Int64) async throws
    /// Removes the events every endpoint has received.
    func pruneEvents() async throws

    // MARK: Upload sessions

    func createUpload(_ upload: UploadRecord) async throws
    func upload(_ id: String) async throws -> UploadRecord?
    /// Moves the session's acknowledged size from `old` to `size`, with the digest state at
    /// `size`; false when the session is gone or no longer at `old` (another request, maybe on
    /// another node, moved it first).
    func setUploadSize(_ id: String, from old: Int64, to size: Int64, digestState: [UInt8]?) async throws -> Bool
    func deleteUpload(_ id: String) async throws
    func uploads(startedBefore: Int64) async throws -> [UploadRecord]

    // MARK: Garbage collection

    /// Runs the metadata part of one sweep in one transaction (rolled back when `dryRun`): removes
    /// the tags retention gives up, the unreachable manifests, and marks every unreferenced,
    /// unprotected blob as being removed (its rows go; a pending-removal mark stays until
    /// `finishBlobRemovals`), so no row ever points at a file being deleted.
    func sweep(_ request: SweepRequest) async throws -> SweepPlan
    /// Blobs marked as being removed (by a sweep that may have died before finishing).
    func pendingBlobRemovals() async throws -> [Digest]
    /// Marks files found on storage with no row as being removed; returns those it marked.
    func markOrphans(_ digests: [Digest]) async throws -> [Digest]
    /// Clears the marks once the files are gone.
    func finishBlobRemovals(_ digests: [Digest]) async throws
    /// Every blob digest with a row (to find orphan files).
    func knownBlobs(among candidates: [Digest]) async throws -> Set<Digest>

    // MARK: Exclusive work

    /// Takes the lock named `name` (`ExclusiveWork`) when no process sharing this store holds
    /// it, else returns nil at once. Sweeps never overlap, and each endpoint's events go out
    /// from one node.
    func tryLock(_ name: String) async throws -> (any ExclusiveLock)?

    // MARK: Settings

    func setting(_ key: String) async throws -> String?
    func setSetting(_ key: String, to value: String) async throws
}

/// What one sweep asks of the metadata.
public struct SweepRequest: Sendable {
    /// Seconds since 1970 now.
    public var now: Int64
    /// Nothing created or pushed after this is removed (now minus the grace period).
    public var cutoff: Int64
    /// Whether a repository's unreachable (untagged) manifests go.
    public var removesUntagged: @Sendable (RepositoryName) -> Bool
    /// Retention: the tags of a repository to remove, given all of them; nil for no retention.
    public var retention: (@Sendable (RepositoryName, [TagRecord]) -> [Tag])?
    /// Compute everything, change nothing.
    public var dryRun: Bool

    public init(now: Int64, cutoff: Int64, removesUntagged: @escaping @Sendable (RepositoryName) -> Bool,
                retention: (@Sendable (RepositoryName, [TagRecord]) -> [Tag])?, dryRun: Bool) {
        self.now = now
        self.cutoff = cutoff
        self.removesUntagged = removesUntagged
        self.retention = retention
        self.dryRun = dryRun
    }
}

/// What a sweep removed from the metadata (or would have, in a dry run).
public struct SweepPlan: Sendable, Equatable {
    public struct RemovedTag: Sendable, Equatable {
        public var repository: RepositoryName
        public var tag: Tag
        public var digest: Digest

        public init(repository: RepositoryName, tag: Tag, digest: Digest) {
            self.repository = repository
            self.tag = tag
            self.digest = digest
        }
    }
    public struct RemovedManifest: Sendable, Equatable {
        public var repository: RepositoryName
        public var digest: Digest

        public init(repository: RepositoryName, digest: Digest) {
            self.repository = repository
            self.digest = digest
        }
    }
    public struct RemovedBlob: Sendable, Equatable {
        public var digest: Digest
        public var size: Int64

        public init(digest: Digest, size: Int64) {
            self.digest = digest
            self.size = size
        }
    }
    public var tags: [RemovedTag] = []
    public var manifests: [RemovedManifest] = []
    /// Blobs whose rows are gone and whose files are to be deleted.
    public var blobs: [RemovedBlob] = []

    public init() {}
}

public struct MetadataStatistics: Sendable, Equatable {
    /// Bytes of every stored blob (manifests included), each counted once.
    public var storedBytes: Int64
    public var repositories: Int64
    public var uploadsInProgress: Int64

    public init(storedBytes: Int64, repositories: Int64, uploadsInProgress: Int64) {
        self.storedBytes = storedBytes
        self.repositories = repositories
        self.uploadsInProgress = uploadsInProgress
    }
}

/// An event as the outbox keeps it: its place in the order, and its encoded form.
public typealias EventPayload = [UInt8]

public struct OutboxEvent: Sendable, Equatable {
    public let sequence: Int64
    public let payload: EventPayload

    public init(sequence: Int64, payload: EventPayload) {
        self.sequence = sequence
        self.payload = payload
    }
}

extension MetadataStore {
    /// The changes that report no event (imports, internal links, tests).
    public func linkBlob(_ digest: Digest, size: Int64, to repository: RepositoryName, finishingUpload upload: String?) async throws {
        try await linkBlob(digest, size: size, to: repository, finishingUpload: upload, events: [])
    }

    public func mountBlob(_ digest: Digest, from source: RepositoryName?, into target: RepositoryName,
                          protectedUntil: Int64) async throws -> Int64? {
        try await mountBlob(digest, from: source, into: target, protectedUntil: protectedUntil, events: { _ in [] })
    }

    public func unlinkBlob(_ digest: Digest, from repository: RepositoryName) async throws -> Bool {
        try await unlinkBlob(digest, from: repository, events: [])
    }

    @discardableResult
    public func putManifest(_ record: ManifestRecord, in repository: RepositoryName, references: ManifestReferences,
                            tags: [Tag], contentPlaced: Bool, guard tagGuard: @escaping TagGuard) async throws -> [Tag: Digest] {
        try await putManifest(record, in: repository, references: references, tags: tags, contentPlaced: contentPlaced,
                              guard: tagGuard, events: [])
    }

    public func deleteManifest(_ digest: Digest, in repository: RepositoryName, guard tagGuard: @escaping TagGuard) async throws -> Bool {
        try await deleteManifest(digest, in: repository, guard: tagGuard, events: [])
    }

    public func deleteTag(_ tag: Tag, in repository: RepositoryName, guard tagGuard: @escaping TagGuard) async throws -> Digest? {
        try await deleteTag(tag, in: repository, guard: tagGuard, events: { _ in [] })
    }
}
