import Logging
import PostgresNIO

/// The PostgreSQL store's `ExclusiveLock`s: session advisory locks, all held on one connection
/// of their own rather than a pooled one (the pool shares its connections among transactions and
/// retires them at will, which would drop or hand on a session's locks). A node that dies, or
/// whose connection breaks, loses its locks at once and another node can take them.
///
/// Held names are also kept here, because a session's advisory locks are reentrant: two callers
/// in one process must exclude each other too. Each connection is a generation; a lock taken on
/// an earlier one is lost.
actor PostgresLockSession {
    /// The first key of every lock's `(int4, int4)` pair (the second is the name's hash): a key
    /// space of berth's own, apart from the one-`bigint` keys of `PostgresSchema`.
    static let classKey: Int32 = 0x6265_7274 // "bert"

    private let connect: @Sendable () async throws -> PostgresConnection
    private let logger: Logger
    private var connection: PostgresConnection?
    private var connecting: Task<PostgresConnection, Error>?
    private var generation = 0
    private var held: Set<String> = []

    init(logger: Logger, connect: @escaping @Sendable () async throws -> PostgresConnection) {
        self.logger = logger
        self.connect = connect
    }

    /// A store dropped without `shutdown()` (a command that ends) still closes the connection,
    /// as postgres-nio requires; the task keeps it alive until it is closed.
    deinit {
        if let connection { Task { try? await connection.close() } }
    }

    func tryLock(_ name: String) async throws -> PostgresExclusiveLock? {
        let (db, generation) = try await currentConnection()
        guard !held.contains(name), generation == self.generation else { return nil }
        held.insert(name) // reserved across the await below
        do {
            let granted = try await db.query("SELECT pg_try_advisory_lock(\(Self.classKey), \(Self.key(name)))", logger: logger)
                .collect().first?.decode(Bool.self) ?? false
            guard granted, generation == self.generation else {
                if generation == self.generation { held.remove(name) }
                return nil
            }
            return PostgresExclusiveLock(name: name, generation: generation, session: self)
        } catch {
            reset()
            throw error
        }
    }

    /// True while the lock's connection is the current one and answers.
    func isHeld(_ lock: PostgresExclusiveLock) async -> Bool {
        guard lock.generation == generation, held.contains(lock.name), let connection else { return false }
        do {
            _ = try await connection.query("SELECT 1", logger: logger).collect()
            return lock.generation == generation
        } catch {
            reset()
            return false
        }
    }

    func release(_ lock: PostgresExclusiveLock) async {
        guard lock.generation == generation, held.contains(lock.name), let connection else { return }
        do {
            _ = try await connection.query("SELECT pg_advisory_unlock(\(Self.classKey), \(Self.key(lock.name)))", logger: logger).collect()
            if lock.generation == generation { held.remove(lock.name) }
        } catch {
            reset()
        }
    }

    /// Closes the connection, which frees whatever it held.
    func close() async {
        let connection = self.connection
        reset()
        try? await connection?.close()
    }

    private func currentConnection() async throws -> (PostgresConnection, Int) {
        if let connection, !connection.isClosed { return (connection, generation) }
        if connection != nil { reset() } // closed under us: its locks are gone
        if let connecting { return (try await connecting.value, generation) }
        let task = Task { try await connect() }
        connecting = task
        do {
            let connection = try await task.value
            connecting = nil
            self.connection = connection
            return (connection, generation)
        } catch {
            connecting = nil
            throw error
        }
    }

    /// Forgets the connection and every lock taken on it.
    private func reset() {
        if let connection { Task { try? await connection.close() } }
        connection = nil
        generation += 1
        held = []
    }

    /// FNV-1a of the name, as the second half of the advisory lock key: the same on every node
    /// and every PostgreSQL version (unlike `hashtext`, which is PostgreSQL's internal hash).
    static func key(_ name: String) -> Int32 {
        var hash: UInt32 = 2_166_136_261
        for byte in name.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int32(bitPattern: hash)
    }
}

/// A lock of a `PostgresLockSession`.
final class PostgresExclusiveLock: ExclusiveLock {
    let name: String
    let generation: Int
    private let session: PostgresLockSession

    init(name: String, generation: Int, session: PostgresLockSession) {
        self.name = name
        self.generation = generation
        self.session = session
    }

    func isHeld() async -> Bool { await session.isHeld(self) }
    func release() async { await session.release(self) }
}
