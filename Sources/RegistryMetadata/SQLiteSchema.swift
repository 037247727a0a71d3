/// The metadata schema, applied idempotently at start-up.
///
/// Digests and names are stored as text; `WITHOUT ROWID` tables keyed by (repository, key) make
/// tag listing, catalog and referrers range scans of one index.
enum SQLiteSchema {
    static let version = 1

    static let statements = """
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
}
