import Foundation
import OCI

/// Something that happened to the registry's content, published to subscribers after the change
/// committed. Metrics, access statistics and webhooks hang here.
///
/// The changes' events are built from what their transactions returned; a durable outbox can
/// record them in the same transaction by taking them from the same place.
public struct RegistryEvent: Sendable, Equatable {
    public enum Action: String, Sendable {
        case push, pull, mount, delete
        /// A tag now points at another manifest (`previous` holds the old one).
        case tagMoved = "tag"
        /// Removed by a garbage-collection sweep (or retention).
        case gcRemoved = "gc"
    }

    public enum Target: Sendable, Equatable {
        case blob(Digest, size: Int64)
        case manifest(Digest, mediaType: String, size: Int64)
        case tag(Tag, digest: Digest, previous: Digest?)
    }

    public var action: Action
    public var repository: RepositoryName?
    public var target: Target
    /// The tag a manifest was pushed or pulled by, if any.
    public var tag: Tag?
    /// For mounts: the repository the blob came from, when named.
    public var source: RepositoryName?
    public var timestamp: Date
    /// Unique, so receivers of at-least-once deliveries can drop duplicates.
    public var id: String
    /// The request the change came from (bound by the server), nil outside one.
    public var request: EventRequest?
    /// For manifest pushes: what the manifest references (config, layers, children).
    public var references: [Descriptor]

    /// `request` defaults to the one bound for the running task; a closure run on another thread
    /// (inside a metadata transaction) passes it explicitly.
    public init(_ action: Action, repository: RepositoryName?, target: Target, tag: Tag? = nil,
                source: RepositoryName? = nil, references: [Descriptor] = [], timestamp: Date = Date(),
                request: EventRequest? = EventRequest.current) {
        self.action = action
        self.repository = repository
        self.target = target
        self.tag = tag
        self.source = source
        self.timestamp = timestamp
        self.references = references
        self.id = UUID().uuidString.lowercased()
        self.request = request
    }
}

/// Receives every event; must return quickly (hand work to a queue of its own).
public protocol RegistryEventSubscriber: Sendable {
    func receive(_ event: RegistryEvent)
}

/// The subscribers of one registry.
///
/// `@unchecked Sendable`: `subscribers` is only touched under `lock`.
public final class RegistryEventBus: @unchecked Sendable {
    private let lock = NSLock()
    private var subscribers: [any RegistryEventSubscriber] = []

    public init() {}

    public func subscribe(_ subscriber: any RegistryEventSubscriber) {
        lock.withLock { subscribers.append(subscriber) }
    }

    public func publish(_ event: RegistryEvent) {
        let current = lock.withLock { subscribers }
        for subscriber in current { subscriber.receive(event) }
    }

    /// Whether anyone listens: an event nobody receives need not be made.
    public var hasSubscribers: Bool { lock.withLock { !subscribers.isEmpty } }
}
