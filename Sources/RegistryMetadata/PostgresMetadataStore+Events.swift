import Foundation
import PostgresNIO

/// The event outbox: events written in the transactions of the changes they report, delivered
/// from per-endpoint cursors, pruned once every cursor has passed them.
///
/// A `BIGSERIAL` hands out numbers when rows are inserted, not when they commit: two writers
/// could commit 11 before 10, and a reader that saw 11 would skip 10 for good. So every
/// transaction that appends takes `PostgresSchema.eventsLockKey` (transaction-scoped) right
/// before its inserts, as its last step, and holds it until it commits: numbers follow commit
/// order. Being the last step, it never waits on a row lock while holding that lock.
extension PostgresMetadataStore {
    func insertEvents(_ payloads: [EventPayload], in db: PostgresConnection) async throws {
        guard !payloads.isEmpty else { return }
        try await run("SELECT pg_advisory_xact_lock(\(PostgresSchema.eventsLockKey))", db)
        let now = Self.now
        for payload in payloads {
            try await run("INSERT INTO events (created_at, payload) VALUES (\(now), \(ByteBuffer(bytes: payload)))", db)
        }
    }

    public func appendEvents(_ payloads: [EventPayload]) async throws {
        guard !payloads.isEmpty else { return }
        try await write { db in try await self.insertEvents(payloads, in: db) }
    }

    public func events(after sequence: Int64, limit: Int) async throws -> [OutboxEvent] {
        try await read { db in
            try await self.rows("SELECT seq, payload FROM events WHERE seq > \(sequence) ORDER BY seq LIMIT \(Int64(limit))", db)
                .map { row in
                    let (seq, payload) = try row.decode((Int64, ByteBuffer).self)
                    return OutboxEvent(sequence: seq, payload: Array(payload.readableBytesView))
                }
        }
    }

    public func eventCount(after sequence: Int64) async throws -> Int64 {
        try await read { db in
            try await self.first("SELECT COUNT(*) FROM events WHERE seq > \(sequence)", db)?.decode(Int64.self) ?? 0
        }
    }

    public func prepareEventCursors(_ endpoints: [String]) async throws -> [String: Int64] {
        try await write { db in
            // The end of the outbox cannot move while this runs.
            try await self.run("SELECT pg_advisory_xact_lock(\(PostgresSchema.eventsLockKey))", db)
            let end = try await self.first("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM events", db)?.decode(Int64.self) ?? 0
            var cursors: [String: Int64] = [:]
            for endpoint in endpoints {
                try await self.run("""
                    INSERT INTO event_cursors (endpoint, delivered) VALUES (\(endpoint), \(end)) ON CONFLICT (endpoint) DO NOTHING
                    """, db)
                cursors[endpoint] = try await self.first("SELECT delivered FROM event_cursors WHERE endpoint = \(endpoint)", db)?
                    .decode(Int64.self) ?? end
            }
            let known = try await self.rows("SELECT endpoint FROM event_cursors", db).map { try $0.decode(String.self) }
            for name in known where !endpoints.contains(name) {
                try await self.run("DELETE FROM event_cursors WHERE endpoint = \(name)", db)
            }
            if endpoints.isEmpty { try await self.run("DELETE FROM events", db) }
            return cursors
        }
    }

    public func eventCursor(_ endpoint: String) async throws -> Int64? {
        try await read { db in
            try await self.first("SELECT delivered FROM event_cursors WHERE endpoint = \(endpoint)", db)?.decode(Int64.self)
        }
    }

    public func setEventCursor(_ endpoint: String, to sequence: Int64) async throws {
        try await write(durable: false) { db in
            try await self.run("""
                UPDATE event_cursors SET delivered = \(sequence) WHERE endpoint = \(endpoint) AND delivered < \(sequence)
                """, db)
        }
    }

    public func pruneEvents() async throws {
        try await write(durable: false) { db in
            try await self.run("DELETE FROM events WHERE seq <= (SELECT COALESCE(MIN(delivered), 0) FROM event_cursors)", db)
        }
    }

    public func statistics() async throws -> MetadataStatistics {
        try await read { db in
            // SUM of BIGINT is NUMERIC in PostgreSQL.
            let row = try await self.first("""
                SELECT (SELECT COALESCE(SUM(size), 0)::BIGINT FROM blobs WHERE stored),
                       (SELECT COUNT(*) FROM repositories),
                       (SELECT COUNT(*) FROM uploads)
                """, db)
            guard let row else { return MetadataStatistics(storedBytes: 0, repositories: 0, uploadsInProgress: 0) }
            let (bytes, repositories, uploads) = try row.decode((Int64, Int64, Int64).self)
            return MetadataStatistics(storedBytes: bytes, repositories: repositories, uploadsInProgress: uploads)
        }
    }
}
