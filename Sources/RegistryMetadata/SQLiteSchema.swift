/// The metadata schema, applied idempotently at start-up and migrated by `PRAGMA user_version`.
///
/// Digests and names are stored as text; `WITHOUT ROWID` tables keyed by (repository, key) make
/// tag listing, catalog and referrers range scans of one index. The SQL stays portable (no
/// SQLite-only functions in queries) so that PostgreSQL can run the same statements.
enum SQLiteSchema {
    static let version = 4

    /// Version 1: what berth 0.1 created.
    static let version1 = """
    PRAGMA journal_mode = WAL;
    CREATE TABLE IF NOT EXISTS repositories (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE IF NOT EXISTS repository_blobs (
        repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
        digest TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (repository_id, digest)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS manifests (
        repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
        digest TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        artifact_type TEXT,
        subject TEXT,
        annotations TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (repository_id, digest)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests (repository_id, subject) WHERE subject IS NOT NULL;
    CREATE TABLE IF NOT EXISTS manifest_references (
        repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
        parent TEXT NOT NULL,
        child TEXT NOT NULL,
        is_manifest INTEGER NOT NULL,
        PRIMARY KEY (repository_id, parent, child)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS manifest_references_by_child ON manifest_references (repository_id, child);
    CREATE TABLE IF NOT EXISTS tags (
        repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        digest TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (repository_id, name)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS tags_by_digest ON tags (repository_id, digest);
    CREATE TABLE IF NOT EXISTS uploads (
        id TEXT PRIMARY KEY,
        repository TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );
    """

    /// Version 2: garbage collection and retention. One row per stored blob (what a sweep may
    /// remove, until when it may not, and whether its file was placed: a claim that died before
    /// placing it leaves `stored = 0`), marks for blobs being removed, tag push and pull times.
    /// Blobs known before get a row each, unprotected: they were stored long ago.
    static let migrationTo2 = """
        CREATE TABLE IF NOT EXISTS blobs (
            digest TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            protected_until INTEGER NOT NULL,
            stored INTEGER NOT NULL DEFAULT 1
        ) WITHOUT ROWID;
        INSERT OR IGNORE INTO blobs (digest, size, created_at, protected_until, stored)
            SELECT digest, MAX(size), 0, 0, 1 FROM repository_blobs GROUP BY digest;
        CREATE TABLE IF NOT EXISTS blob_removals (
            digest TEXT PRIMARY KEY,
            started_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS repository_blobs_by_digest ON repository_blobs (digest);
        CREATE INDEX IF NOT EXISTS manifests_by_digest ON manifests (digest);
        CREATE INDEX IF NOT EXISTS manifest_references_by_child_only ON manifest_references (child);
        ALTER TABLE tags RENAME COLUMN updated_at TO pushed_at;
        ALTER TABLE tags ADD COLUMN pulled_at INTEGER;
        CREATE TABLE IF NOT EXISTS settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        PRAGMA user_version = 2;
        """

    /// Version 3: the event outbox. Each change that notifications report writes its events here
    /// in its own transaction; endpoints deliver from their cursor and the delivered prefix is
    /// pruned. `seq` only grows (AUTOINCREMENT), so a cursor never sees a reused number.
    static let migrationTo3 = """
        CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at INTEGER NOT NULL,
            payload BLOB NOT NULL
        );
        CREATE TABLE IF NOT EXISTS event_cursors (
            endpoint TEXT PRIMARY KEY,
            delivered INTEGER NOT NULL
        ) WITHOUT ROWID;
        PRAGMA user_version = 3;
        """

    /// Version 4: an upload session keeps the digest state of its acknowledged bytes, so a
    /// chunk carries on from it after a restart or on another node without rehashing.
    static let migrationTo4 = """
        ALTER TABLE uploads ADD COLUMN digest_state BLOB;
        PRAGMA user_version = 4;
        """
}
