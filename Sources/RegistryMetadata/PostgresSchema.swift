/// The metadata schema in PostgreSQL: the tables of `SQLiteSchema` version 4, in PostgreSQL types.
///
/// Versions live in `schema_migrations` (one row per applied version). PostgreSQL has no
/// databases written by older berths, so version 4 is created in one step; later versions add
/// steps to `migrations`. Names and digests use the "C" collation, so that listings, catalog
/// pagination and sweeps order them byte-wise as SQLite does, whatever the database's locale.
enum PostgresSchema {
    static let version = 4

    /// Taken (transaction-scoped) while migrating, so that nodes starting together migrate once.
    static let migrationLockKey: Int64 = 0x6265_7274_685f_6d67 // "berth_mg"
    /// Taken by every transaction that appends events, until it commits: sequence numbers are
    /// handed out in commit order, so a reader past `seq` never misses a later commit below it.
    static let eventsLockKey: Int64 = 0x6265_7274_685f_6576 // "berth_ev"

    static let migrationsTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            applied_at BIGINT NOT NULL
        )
        """

    /// Statements of each version, by the version they bring the schema to (one statement each:
    /// the extended query protocol runs one at a time).
    static let migrations: [(version: Int, statements: [String])] = [
        (4, version4),
    ]

    static let version4 = [
        """
        CREATE TABLE IF NOT EXISTS repositories (
            id BIGSERIAL PRIMARY KEY,
            name TEXT COLLATE "C" NOT NULL UNIQUE
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS repository_blobs (
            repository_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
            digest TEXT COLLATE "C" NOT NULL,
            size BIGINT NOT NULL,
            PRIMARY KEY (repository_id, digest)
        )
        """,
        "CREATE INDEX IF NOT EXISTS repository_blobs_by_digest ON repository_blobs (digest)",
        """
        CREATE TABLE IF NOT EXISTS manifests (
            repository_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
            digest TEXT COLLATE "C" NOT NULL,
            media_type TEXT NOT NULL,
            size BIGINT NOT NULL,
            artifact_type TEXT,
            subject TEXT COLLATE "C",
            annotations TEXT,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (repository_id, digest)
        )
        """,
        "CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests (repository_id, subject) WHERE subject IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS manifests_by_digest ON manifests (digest)",
        """
        CREATE TABLE IF NOT EXISTS manifest_references (
            repository_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
            parent TEXT COLLATE "C" NOT NULL,
            child TEXT COLLATE "C" NOT NULL,
            is_manifest BOOLEAN NOT NULL,
            PRIMARY KEY (repository_id, parent, child)
        )
        """,
        "CREATE INDEX IF NOT EXISTS manifest_references_by_child ON manifest_references (repository_id, child)",
        "CREATE INDEX IF NOT EXISTS manifest_references_by_child_only ON manifest_references (child)",
        """
        CREATE TABLE IF NOT EXISTS tags (
            repository_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
            name TEXT COLLATE "C" NOT NULL,
            digest TEXT COLLATE "C" NOT NULL,
            pushed_at BIGINT NOT NULL,
            pulled_at BIGINT,
            PRIMARY KEY (repository_id, name)
        )
        """,
        "CREATE INDEX IF NOT EXISTS tags_by_digest ON tags (repository_id, digest)",
        """
        CREATE TABLE IF NOT EXISTS uploads (
            id TEXT PRIMARY KEY,
            repository TEXT NOT NULL,
            size BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            digest_state BYTEA
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS blobs (
            digest TEXT COLLATE "C" PRIMARY KEY,
            size BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            protected_until BIGINT NOT NULL,
            stored BOOLEAN NOT NULL DEFAULT TRUE
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS blob_removals (
            digest TEXT COLLATE "C" PRIMARY KEY,
            started_at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS events (
            seq BIGSERIAL PRIMARY KEY,
            created_at BIGINT NOT NULL,
            payload BYTEA NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS event_cursors (
            endpoint TEXT PRIMARY KEY,
            delivered BIGINT NOT NULL
        )
        """,
    ]
}

/// Failures of the PostgreSQL store itself (not conflicts of the registry's data).
public enum PostgresMetadataError: Error, Equatable, CustomStringConvertible {
    /// The database was migrated by a newer berth: this one must not write to it.
    case schemaTooNew(found: Int, known: Int)
    /// `migrate import-sqlite` into a database that already holds registry data.
    case notEmpty
    case inconsistent(String)

    public var description: String {
        switch self {
        case .schemaTooNew(let found, let known):
            return "the metadata database has schema version \(found), newer than the \(known) this berth knows: upgrade berth"
        case .notEmpty:
            return "the metadata database already holds registry data: import into an empty database"
        case .inconsistent(let message):
            return "metadata store: \(message)"
        }
    }
}
