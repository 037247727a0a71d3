import Foundation
import OCI

/// What the core needs of the configuration: write and delete permissions, garbage collection,
/// retention and immutable tags. `RegistryConfiguration` (the server's config.yml) fills it in.
public struct RegistrySettings: Sendable {
    public var readOnly = false
    public var deleteEnabled = false
    public var garbageCollection = GarbageCollectionSettings()
    public var retention = RetentionSettings()
    public var immutableTags: [ImmutableTagRule] = []
    public var validation = ManifestValidation()
    /// Tags one push by digest may carry (`?tag=`); more are refused with 414.
    public var maximumTagsPerPush = 100

    public init() {}
}

/// `storage.maintenance.gc`.
public struct GarbageCollectionSettings: Sendable, Equatable {
    public var enabled = true
    /// Seconds between sweeps.
    public var interval: TimeInterval = 3600
    /// Grace period in seconds: nothing stored, pushed, checked with `HEAD` or mounted more
    /// recently is removed.
    public var delay: TimeInterval = 3600
    /// Also remove manifests no tag, index or subject reaches.
    public var untagged = false
    public var dryRun = false

    public init() {}
}

/// `storage.maintenance.retention`.
public struct RetentionSettings: Sendable {
    public var dryRun = false
    public var policies: [RetentionPolicy] = []

    public init() {}

    /// The first policy whose repositories match, if any.
    public func policy(for repository: RepositoryName) -> RetentionPolicy? {
        policies.first { $0.applies(to: repository) }
    }
}
