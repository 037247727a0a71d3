import Foundation
import OCI
import RegistryMetadata
import Synchronization

/// Turns the registry's events into the outbox's records, when notifications are configured.
///
/// Push, mount and delete events are written in the transaction of their change, so none is
/// lost. Pull events would cost a write per pull, so they wait here and go to the outbox about
/// once a second (`Registry.flushPullEvents`): a `kill -9` can lose only the last second of them.
public final class EventOutbox: Sendable {
    /// `notifications.events.includereferences`.
    public let includeReferences: Bool
    private let pendingPulls = Mutex<[EventPayload]>([])
    /// Pull events kept at most before new ones are dropped (an outage of the outbox's writes).
    static let pullLimit = 100_000

    public init(includeReferences: Bool) {
        self.includeReferences = includeReferences
    }

    /// The records of `event`: none for the kinds notifications do not report (tag moves, GC).
    func payloads(_ event: RegistryEvent) -> [EventPayload] {
        guard let record = EventRecord(event, includeReferences: includeReferences),
              let data = try? JSONEncoder().encode(record) else { return [] }
        return [Array(data)]
    }

    func bufferPull(_ event: RegistryEvent) {
        let payloads = payloads(event)
        pendingPulls.withLock { pending in
            if pending.count < Self.pullLimit { pending += payloads }
        }
    }

    func takePulls() -> [EventPayload] {
        pendingPulls.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
    }
}

/// One event as the outbox stores it: what Distribution's event envelope needs, flat.
public struct EventRecord: Codable, Sendable, Equatable {
    public var id: String
    public var timestamp: Date
    public var action: String
    public var repository: String
    public var digest: String
    public var mediaType: String
    public var size: Int64
    public var tag: String?
    /// For mounts: the repository the blob came from.
    public var fromRepository: String?
    /// Blob or manifest, for the event's URL.
    public var isManifest: Bool
    public var references: [Descriptor]?
    public var request: EventRequest?

    /// Nil for events notifications do not report.
    init?(_ event: RegistryEvent, includeReferences: Bool) {
        guard let repository = event.repository else { return nil }
        switch event.action {
        case .push, .pull, .mount, .delete: break
        case .tagMoved, .gcRemoved: return nil
        }
        id = event.id
        timestamp = event.timestamp
        action = event.action.rawValue
        self.repository = repository.value
        tag = event.tag?.value
        fromRepository = event.source?.value
        request = event.request
        switch event.target {
        case .blob(let digest, let size):
            self.digest = digest.description
            mediaType = "application/octet-stream"
            self.size = size
            isManifest = false
        case .manifest(let digest, let mediaType, let size):
            self.digest = digest.description
            self.mediaType = mediaType
            self.size = size
            isManifest = true
            if includeReferences && !event.references.isEmpty { references = event.references }
        case .tag(let tag, let digest, _):
            self.digest = digest.description
            mediaType = ""
            size = 0
            self.tag = tag.value
            isManifest = true
        }
    }

    public static func decode(_ payload: EventPayload) -> EventRecord? {
        try? JSONDecoder().decode(EventRecord.self, from: Data(payload))
    }
}
