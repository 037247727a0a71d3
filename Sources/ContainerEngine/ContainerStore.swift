import Foundation
import ImageStore
import OCI
import SystemSupport

/// The containers' records on disk, safe for several `berth` processes at once: every
/// read-modify-write happens under one `flock`, and records are replaced atomically.
public struct ContainerStore: Sendable {
    public let paths: EnginePaths

    public init(paths: EnginePaths) throws {
        self.paths = paths
        try paths.create()
    }

    /// Runs `body` holding the containers' lock.
    public func locked<T>(_ body: () throws -> T) throws -> T {
        let lock = try FileLock(path: paths.containersLock, exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        return try body()
    }

    public func all() throws -> [ContainerRecord] {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: paths.containers)) ?? []
        return ids.filter { !$0.hasPrefix(".") }.compactMap { try? load(id: $0) }
            .sorted { $0.created > $1.created }
    }

    public func load(id: String) throws -> ContainerRecord {
        guard let data = FileManager.default.contents(atPath: paths.container(id) + "/container.json") else {
            throw EngineError.noSuchContainer(id)
        }
        return try ContainerStore.decoder.decode(ContainerRecord.self, from: data)
    }

    public func save(_ record: ContainerRecord) throws {
        // Not flushed: a record can be rebuilt (reconcile), and a start writes it several times.
        try POSIX.writeFileAtomically(paths.container(record.id) + "/container.json",
                                      Array(try ContainerStore.encoder.encode(record)), mode: 0o600, durable: false)
    }

    /// Finds a container by name, full ID or unique ID prefix (as docker does).
    public func find(_ key: String) throws -> ContainerRecord {
        let records = try all()
        if let byName = records.first(where: { $0.name == key || $0.id == key }) { return byName }
        let prefixed = key.count >= 3 ? records.filter { $0.id.hasPrefix(key) } : []
        guard prefixed.count == 1, let found = prefixed.first else { throw EngineError.noSuchContainer(key) }
        return found
    }

    /// Applies `change` to the stored record under the lock and returns the result.
    @discardableResult
    public func update(_ id: String, _ change: (inout ContainerRecord) throws -> Void) throws -> ContainerRecord {
        try locked {
            var record = try load(id: id)
            try change(&record)
            try save(record)
            return record
        }
    }

    /// Creates the container's directory and first record; the name must be free.
    public func create(_ record: ContainerRecord) throws {
        try locked {
            if let holder = try all().first(where: { $0.name == record.name }) {
                throw EngineError.nameInUse(record.name, id: holder.id)
            }
            let dir = paths.container(record.id)
            // The container's directory keeps other host users out; `upper` becomes the mode of
            // the container's `/`, which must be 0755 for its non-root users.
            for (sub, mode) in [("", 0o700), ("/upper", 0o755), ("/work", 0o700), ("/rootfs", 0o755)] {
                try FileManager.default.createDirectory(atPath: dir + sub, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: mode])
            }
            try save(record)
        }
    }

    public func remove(id: String) throws {
        try locked { try FileManager.default.removeItem(atPath: paths.container(id)) }
    }

    /// A new random ID: 64 hex characters, as docker's.
    public static func newID() -> String {
        (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    // Records are read and written several times per container start: compact JSON with dates
    // as numbers costs far less than ISO 8601 text (`berth inspect` prints that for people).
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }()
}

extension ContainerStore {
    /// Hex SHA-256 of a string (short stable names derived from user input).
    static func hexHash(_ text: String) -> String {
        DigestHasher.digest(of: Array(text.utf8)).hex
    }
}
