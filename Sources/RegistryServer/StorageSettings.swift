import Foundation
import ServerConfiguration

/// `storage`: where blobs live (the filesystem or the s3 driver), deletes, read-only mode and the
/// purging of abandoned uploads; `database.sqlite.path`, where the embedded metadata lives.
/// (Garbage collection and retention are `RegistryConfiguration+Maintenance`.)
public struct StorageSettings: Sendable {
    /// `storage.maintenance.uploadpurging`.
    public struct UploadPurging: Sendable {
        public var enabled = true
        public var age: TimeInterval = 168 * 3600
        public var interval: TimeInterval = 24 * 3600
        public var dryRun = false
    }

    /// `storage.filesystem.rootdirectory`.
    public var rootDirectory = "/var/lib/registry"
    /// `storage.s3`; nil: blobs on the filesystem.
    public var s3: S3StorageSettings?
    /// `database.sqlite.path` (Berth's): the SQLite metadata file. Default with the filesystem
    /// driver: `<rootdirectory>/berth/metadata.sqlite`; required with s3 (the bucket cannot hold it).
    public var sqlitePath: String?
    /// `storage.delete.enabled`.
    public var deleteEnabled = false
    /// `storage.maintenance.readonly.enabled`.
    public var readOnly = false
    public var uploadPurging = UploadPurging()

    public init() {}

    /// Keys beside the driver that Distribution accepts under `storage`.
    static let sections = ["filesystem", "s3", "delete", "maintenance", "cache", "redirect"]

    static func read(from tree: inout ConfigurationTree, metadataInPostgres: Bool) -> StorageSettings {
        var settings = StorageSettings()
        if let storage = tree.value("storage") as? [String: Any] {
            for driver in storage.keys.filter({ !sections.contains($0) }).sorted() {
                tree.problem("storage.\(driver): unsupported storage driver (berth-registry stores blobs on the filesystem or in s3)")
            }
            if storage["filesystem"] != nil && storage["s3"] != nil {
                tree.problem("storage: both filesystem and s3 are configured; choose one driver")
            }
        }
        if let root = tree.string("storage.filesystem.rootdirectory") {
            settings.rootDirectory = tree.resolve(root)
        }
        if let path = tree.string("database.sqlite.path") { settings.sqlitePath = tree.resolve(path) }
        if tree.value("storage.s3") != nil {
            settings.s3 = S3StorageSettings.read(from: &tree, redirectDisabled: tree.bool("storage.redirect.disable", default: false))
            if settings.sqlitePath == nil && !metadataInPostgres {
                tree.problem("database.sqlite.path: required with the s3 storage driver (a local file for the metadata), "
                             + "unless database.enabled puts it in PostgreSQL")
            }
        }
        settings.deleteEnabled = tree.bool("storage.delete.enabled", default: settings.deleteEnabled)
        settings.readOnly = tree.bool("storage.maintenance.readonly.enabled", default: settings.readOnly)
        let purging = "storage.maintenance.uploadpurging"
        var upload = settings.uploadPurging
        upload.enabled = tree.bool("\(purging).enabled", default: upload.enabled)
        upload.age = tree.duration("\(purging).age", default: upload.age)
        upload.interval = tree.duration("\(purging).interval", default: upload.interval)
        upload.dryRun = tree.bool("\(purging).dryrun", default: upload.dryRun)
        if upload.enabled && upload.interval <= 0 { tree.problem("\(purging).interval: must be positive") }
        settings.uploadPurging = upload
        return settings
    }
}
