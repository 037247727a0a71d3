import CSQLite
import Foundation

/// The event outbox: events written in the transactions of the changes they report, delivered
/// from per-endpoint cursors, pruned once every cursor has passed them.
extension SQLiteMetadataStore {
    static func insertEvents(_ payloads: [EventPayload], in db: SQLiteConnection) throws {
        guard !payloads.isEmpty else { return }
        let now = Int64(Date().timeIntervalSince1970)
        for payload in payloads {
            try db.statement("INSERT INTO events (created_at, payload) VALUES (?, ?)").bind(now, payload).run()
        }
    }

    public func appendEvents(_ payloads: [EventPayload]) async throws {
        guard !payloads.isEmpty else { return }
        try await write { db in try Self.insertEvents(payloads, in: db) }
    }

    public func events(after sequence: Int64, limit: Int) async throws -> [OutboxEvent] {
        try await read { db in
            try db.statement("SELECT seq, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?")
                .bind(sequence, Int64(limit)).rows { OutboxEvent(sequence: $0.int(0), payload: $0.blob(1)) }
        }
    }

    public func eventCount(after sequence: Int64) async throws -> Int64 {
        try await read { db in
            try db.statement("SELECT COUNT(*) FROM events WHERE seq > ?").bind(sequence).first { $0.int(0) } ?? 0
        }
    }

    public func prepareEventCursors(_ endpoints: [String]) async throws -> [String: Int64] {
        try await write { db in
            let end = try db.statement("SELECT COALESCE(MAX(seq), 0) FROM events").first { $0.int(0) } ?? 0
            var cursors: [String: Int64] = [:]
            for endpoint in endpoints {
                try db.statement("INSERT OR IGNORE INTO event_cursors (endpoint, delivered) VALUES (?, ?)").bind(endpoint, end).run()
                cursors[endpoint] = try db.statement("SELECT delivered FROM event_cursors WHERE endpoint = ?")
                    .bind(endpoint).first { $0.int(0) } ?? end
            }
            let known = try db.statement("SELECT endpoint FROM event_cursors").rows { $0.text(0) ?? "" }
            for name in known where !endpoints.contains(name) {
                try db.statement("DELETE FROM event_cursors WHERE endpoint = ?").bind(name).run()
            }
            if endpoints.isEmpty { try db.statement("DELETE FROM events").run() }
            return cursors
        }
    }

    public func eventCursor(_ endpoint: String) async throws -> Int64? {
        try await read { db in
            try db.statement("SELECT delivered FROM event_cursors WHERE endpoint = ?").bind(endpoint).first { $0.int(0) }
        }
    }

    public func setEventCursor(_ endpoint: String, to sequence: Int64) async throws {
        // Not synced: after a power loss the cursor may step back and events go out again,
        // which at-least-once delivery allows.
        try await write(durable: false) { db in
            try db.statement("UPDATE event_cursors SET delivered = ? WHERE endpoint = ? AND delivered < ?")
                .bind(sequence, endpoint, sequence).run()
        }
    }

    public func pruneEvents() async throws {
        try await write(durable: false) { db in
            try db.statement("DELETE FROM events WHERE seq <= (SELECT COALESCE(MIN(delivered), 0) FROM event_cursors)").run()
        }
    }

    public func statistics() async throws -> MetadataStatistics {
        try await read { db in
            MetadataStatistics(
                storedBytes: try db.statement("SELECT COALESCE(SUM(size), 0) FROM blobs WHERE stored = 1").first { $0.int(0) } ?? 0,
                repositories: try db.statement("SELECT COUNT(*) FROM repositories").first { $0.int(0) } ?? 0,
                uploadsInProgress: try db.statement("SELECT COUNT(*) FROM uploads").first { $0.int(0) } ?? 0)
        }
    }
}
