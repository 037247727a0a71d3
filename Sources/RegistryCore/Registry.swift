import Foundation
import Logging
import OCI
import RegistryMetadata
import RegistryStorage

/// The registry's operations, independent of HTTP: blobs, uploads, manifests, tags, listings,
/// deletes and garbage collection, over a `StorageDriver` and a `MetadataStore`.
///
/// Domain failures are thrown as `DistributionError` (the spec's codes); the server maps them,
/// and anything else, to responses in one place. Every change is published as a `RegistryEvent`
/// once committed.
public final class Registry: Sendable {
    public let settings: RegistrySettings
    public let storage: any StorageDriver
    public let metadata: any MetadataStore
    public let events: RegistryEventBus
    public let logger: Logger
    /// Where notification events go; nil when no endpoint is configured.
    public let outbox: EventOutbox?
    let manifestCache = ManifestCache()
    let hashers = UploadHashers()
    let pulls = PullRecorder()
    let tagCache = TagCache()
    let orphanScans = OrphanScanSchedule()

    public init(settings: RegistrySettings, storage: any StorageDriver, metadata: any MetadataStore,
                logger: Logger, events: RegistryEventBus = RegistryEventBus(), outbox: EventOutbox? = nil) {
        self.settings = settings
        self.storage = storage
        self.metadata = metadata
        self.logger = logger
        self.events = events
        self.outbox = outbox
    }

    /// The embedded shape: blobs on the filesystem under `root`, metadata in SQLite beside them.
    /// Blocking (creates directories, opens and migrates the database): call it at start-up.
    /// `database` is the SQLite file, `<root>/berth/metadata.sqlite` when nil.
    public static func onFilesystem(root: String, database: String? = nil, settings: RegistrySettings, logger: Logger,
                                    outbox: EventOutbox? = nil) throws -> Registry {
        Registry(on: FilesystemDriver(root: root), named: "filesystem",
                 metadata: try openSQLite(at: database ?? defaultDatabase(root: root)), settings: settings, logger: logger,
                 outbox: outbox)
    }

    /// Where the embedded SQLite metadata of a filesystem root lives unless configured elsewhere.
    public static func defaultDatabase(root: String) -> String {
        FilesystemDriver(root: root).absolute(StorageLayout.metadataDatabase)
    }

    /// Blobs on `driver`, its storage actions timed under `name` (Distribution's driver name).
    public convenience init(on driver: any StorageDriver, named name: String, metadata: any MetadataStore,
                            settings: RegistrySettings, logger: Logger, outbox: EventOutbox? = nil) {
        self.init(settings: settings, storage: TimedStorageDriver(driver, driverName: name), metadata: metadata,
                  logger: logger, outbox: outbox)
    }

    /// The SQLite metadata at `path`, its directory made first. Blocking (opens and migrates).
    public static func openSQLite(at path: String) throws -> SQLiteMetadataStore {
        // The database's directory; the driver makes every other directory as it writes.
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        return try SQLiteMetadataStore(path: path)
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    /// The outbox records of a change's event, to be written in the change's transaction.
    func outboxPayloads(_ event: RegistryEvent) -> [EventPayload] {
        outbox?.payloads(event) ?? []
    }

    /// Publishes a pull: to subscribers now, to the outbox with the next flush.
    /// The event is made only when an outbox or a subscriber takes it: a pull is the hottest
    /// request, and an event costs a UUID and its string.
    func publishPull(_ make: @autoclosure () -> RegistryEvent) {
        guard outbox != nil || events.hasSubscribers else { return }
        let event = make()
        outbox?.bufferPull(event)
        events.publish(event)
    }

    /// Writes the pull events gathered since the last flush to the outbox (about once a second).
    public func flushPullEvents() async throws {
        guard let outbox else { return }
        let pulls = outbox.takePulls()
        guard !pulls.isEmpty else { return }
        try await metadata.appendEvents(pulls)
    }

    /// How long a blob just stored, checked or mounted is safe from sweeps: the grace period, at
    /// least a second (times are kept in whole seconds).
    var protectionWindow: Int64 { max(1, Int64(settings.garbageCollection.delay.rounded(.up))) }

    func ensureWritable() throws(DistributionError) {
        if settings.readOnly {
            throw DistributionError(.unsupported, "the registry is in read-only mode", status: 405)
        }
    }

    func ensureDeleteEnabled() throws(DistributionError) {
        guard settings.deleteEnabled else {
            throw DistributionError(.unsupported, "deletes are disabled (storage.delete.enabled)", status: 405)
        }
        try ensureWritable()
    }

    /// The rule protecting a tag from moving or going, described; nil when it may.
    var tagGuard: TagGuard {
        let rules = settings.immutableTags
        return { repository, tag in rules.rule(protecting: tag, in: repository) }
    }
}

extension DistributionError {
    /// The spec's error for a change the metadata store refused.
    init(_ conflict: MetadataConflict, in repository: RepositoryName) {
        switch conflict {
        case .blobUnknown(let digest):
            self.init(.manifestBlobUnknown, "blob \(digest) is unknown to repository \(repository)", detail: digest.description)
        case .manifestUnknown(let digest):
            self.init(.manifestUnknown, "manifest \(digest) is unknown to repository \(repository)", status: 400,
                      detail: digest.description)
        case .tagImmutable(let tag, let rule):
            self.init(.denied, "tag \(tag) of \(repository) is immutable (\(rule))")
        case .blobBeingRemoved(let digest), .contentNotStored(let digest):
            self.init(.blobUnknown, "blob \(digest) was just removed by garbage collection; push it again")
        }
    }
}
