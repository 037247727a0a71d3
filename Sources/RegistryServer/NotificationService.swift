import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore
import RegistryCore
import RegistryMetadata
import ServiceLifecycle
import Synchronization

/// Delivers the outbox's events to the configured endpoints, at least once and in order per
/// endpoint, and flushes the batched pull events to the outbox about once a second.
///
/// Each endpoint has a loop of its own, so a slow or failing one never holds back the others,
/// and none of them holds back a push: a push only writes its events to the outbox. A failed
/// delivery is retried after `backoff`, doubling up to `maxbackoff`. An idle loop looks at the
/// outbox when the core has published something since it last looked, and at least every second.
///
/// Nodes sharing the metadata share the outbox, so an endpoint's loop only sends while its node
/// holds the endpoint's `ExclusiveLock`: one node sends, in order, and the others try to take
/// the lock over every second, from the cursor the sender saved, once that node is gone.
final class NotificationService: Service, Sendable {
    private let settings: NotificationSettings
    private let registry: Registry
    private let envelope: EventEnvelope
    private let logger: Logger
    private let published: Published
    /// Where each endpoint resumes, made before the server accepts a request, so a new endpoint's
    /// cursor never passes an event made after start-up; the node taking over reads it again.
    private let cursors: [String: Int64]
    static let batchLimit = 100
    /// How often a node not sending to an endpoint tries to take its deliveries over.
    static let takeoverInterval: Duration = .seconds(1)

    init(settings: NotificationSettings, registry: Registry, envelope: EventEnvelope, logger: Logger) async throws {
        cursors = try await registry.metadata.prepareEventCursors(settings.endpoints.map(\.name))
        self.settings = settings
        self.registry = registry
        self.envelope = envelope
        self.logger = logger
        published = Published()
        registry.events.subscribe(published)
    }

    /// Counts the core's events, so idle loops know when to look at the outbox again.
    private final class Published: RegistryEventSubscriber, Sendable {
        let count = Atomic<Int>(0)
        func receive(_ event: RegistryEvent) { count.add(1, ordering: .relaxed) }
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.flushPulls() }
            for endpoint in settings.endpoints {
                group.addTask { await self.serve(endpoint) }
            }
        }
        // Shutting down: what was pulled last goes to the outbox, for the next start to send.
        try? await registry.flushPullEvents()
    }

    private var running: Bool { !Task.isCancelled && !Task.isShuttingDownGracefully }

    private func flushPulls() async {
        while running {
            await pause(.seconds(1))
            do { try await registry.flushPullEvents() } catch {
                logger.warning("pull events not written to the outbox", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Delivers to `endpoint` whenever this node holds its lock, until the service stops.
    private func serve(_ endpoint: NotificationSettings.Endpoint) async {
        let name = ExclusiveWork.notifications(to: endpoint.name)
        var reportedFailure = false
        while running {
            let lock: (any ExclusiveLock)?
            do {
                lock = try await registry.metadata.tryLock(name)
                reportedFailure = false
            } catch {
                if !reportedFailure {
                    logger.warning("notification lock unavailable", metadata: ["endpoint": "\(endpoint.name)", "error": "\(error)"])
                }
                reportedFailure = true
                lock = nil
            }
            guard let lock else {
                await pause(Self.takeoverInterval)
                continue
            }
            do {
                let start = try await registry.metadata.eventCursor(endpoint.name) ?? cursors[endpoint.name] ?? 0
                await deliver(to: endpoint, from: start, holding: lock)
            } catch {
                logger.warning("event cursor unreadable", metadata: ["endpoint": "\(endpoint.name)", "error": "\(error)"])
                await pause(.seconds(1))
            }
            await lock.release()
        }
    }

    /// Sends the outbox from `start` on, until the service stops or the lock is lost.
    private func deliver(to endpoint: NotificationSettings.Endpoint, from start: Int64, holding lock: any ExclusiveLock) async {
        var cursor = start
        var delivered = 0
        let pending = Gauge(label: "registry_notifications_pending_total", dimensions: [("endpoint", endpoint.name)])
        while running {
            guard await lock.isHeld() else {
                logger.warning("notification lock lost; another node may send now", metadata: ["endpoint": "\(endpoint.name)"])
                return
            }
            let seen = published.count.load(ordering: .relaxed)
            let batch: [OutboxEvent]
            do {
                batch = try await registry.metadata.events(after: cursor, limit: Self.batchLimit)
            } catch {
                logger.warning("outbox unreadable", metadata: ["endpoint": "\(endpoint.name)", "error": "\(error)"])
                await pause(.seconds(1))
                continue
            }
            guard let last = batch.last else {
                pending.record(0)
                await idle(since: seen)
                continue
            }
            let backlog = batch.count < Self.batchLimit
                ? Int64(batch.count) : (try? await registry.metadata.eventCount(after: cursor)) ?? Int64(batch.count)
            pending.record(backlog)
            let records = batch.compactMap { EventRecord.decode($0.payload) }.filter { Self.wanted($0, by: endpoint) }
            if !records.isEmpty {
                guard await send(records, to: endpoint, holding: lock) else { return }
            }
            cursor = last.sequence
            do {
                try await registry.metadata.setEventCursor(endpoint.name, to: cursor)
            } catch {
                logger.warning("event cursor not saved", metadata: ["endpoint": "\(endpoint.name)", "error": "\(error)"])
            }
            delivered += batch.count
            if delivered >= 1000 || batch.count < Self.batchLimit {
                delivered = 0
                try? await registry.metadata.pruneEvents()
            }
        }
    }

    /// Sends until the endpoint accepts (true), or the service stops or the lock is lost (false).
    private func send(_ records: [EventRecord], to endpoint: NotificationSettings.Endpoint, holding lock: any ExclusiveLock) async -> Bool {
        let body = envelope.encode(records)
        var delay = endpoint.backoff
        var failures = 0
        while running {
            if failures > 0 { guard await lock.isHeld() else { return false } }
            var request = HTTPClientRequest(url: endpoint.url.absoluteString)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: EventEnvelope.mediaType)
            for (name, values) in endpoint.headers { for value in values { request.headers.add(name: name, value: value) } }
            request.body = .bytes(ByteBuffer(bytes: body))
            let code: String
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(endpoint.timeout * 1000)))
                _ = try? await response.body.collect(upTo: 64 << 10)
                code = "\(response.status.code)"
                if (200..<400).contains(response.status.code) {
                    Counter(label: "registry_notifications_status_total", dimensions: [("code", code), ("endpoint", endpoint.name)]).increment()
                    for record in records {
                        Counter(label: "registry_notifications_events_total",
                                dimensions: [("action", record.action), ("endpoint", endpoint.name),
                                             ("type", record.isManifest ? "manifest" : "blob")]).increment()
                    }
                    if failures >= endpoint.threshold && endpoint.threshold > 0 {
                        logger.info("notification endpoint answering again", metadata: ["endpoint": "\(endpoint.name)"])
                    }
                    return true
                }
            } catch {
                code = "error"
            }
            Counter(label: "registry_notifications_status_total", dimensions: [("code", code), ("endpoint", endpoint.name)]).increment()
            failures += 1
            if failures == endpoint.threshold {
                logger.warning("notification endpoint failing", metadata: ["endpoint": "\(endpoint.name)", "status": "\(code)"])
            }
            await pause(.milliseconds(Int64(delay * 1000)))
            delay = min(delay * 2, endpoint.maxBackoff)
        }
        return false
    }

    static func wanted(_ record: EventRecord, by endpoint: NotificationSettings.Endpoint) -> Bool {
        !endpoint.ignoredActions.contains(record.action) && !endpoint.ignoredMediaTypes.contains(record.mediaType)
    }

    /// Waits until the core publishes something after `seen` (pull events also need their
    /// flush), or a second has passed.
    private func idle(since seen: Int) async {
        for _ in 0..<20 where running {
            await pause(.milliseconds(50))
            if published.count.load(ordering: .relaxed) != seen { return }
        }
    }
}
