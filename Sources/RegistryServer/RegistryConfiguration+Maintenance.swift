import Foundation
import OCI
import RegistryCore
import ServerConfiguration

/// Berth's garbage collection, retention and immutable-tag keys.
///
/// Distribution 2.8 and 3 refuse any key under `storage:` besides the driver, `maintenance`,
/// `cache`, `delete`, `redirect` (and `tag`), and ignore unknown keys under `maintenance` and at
/// the top level; so these live where a Distribution can still read the same file:
/// ```yaml
/// storage:
///   maintenance:
///     gc: {enabled: true, interval: 1h, delay: 1h, untagged: false, dryrun: false}
///     retention:
///       dryrun: false
///       policies:
///         - repositories: ["ci/*", "team/**"]
///           keeptags:
///             - patterns: ["^v[0-9]+\\.", "^latest$"]
///             - mostrecentlypushedcount: 10
///             - {pushedwithin: 720h}
///             - {pulledwithin: 168h}
///           deleteuntagged: true
/// immutabletags:
///   - repositories: ["prod/**"]
///     tags: ["v*"]
/// ```
extension RegistryConfiguration {
    static func parseMaintenance(_ tree: inout ConfigurationTree, into config: inout RegistryConfiguration) {
        let gc = "storage.maintenance.gc"
        var collection = config.garbageCollection
        collection.enabled = tree.bool("\(gc).enabled", default: collection.enabled)
        collection.interval = tree.duration("\(gc).interval", default: collection.interval)
        collection.delay = tree.duration("\(gc).delay", default: collection.delay)
        collection.untagged = tree.bool("\(gc).untagged", default: collection.untagged)
        collection.dryRun = tree.bool("\(gc).dryrun", default: collection.dryRun)
        if collection.enabled && collection.interval <= 0 { tree.problem("\(gc).interval: must be positive") }
        if collection.delay < 0 { tree.problem("\(gc).delay: must not be negative") }
        config.garbageCollection = collection

        let retention = "storage.maintenance.retention"
        config.retention.dryRun = tree.bool("\(retention).dryrun", default: config.retention.dryRun)
        for index in 0..<tree.count("\(retention).policies") {
            if let policy = parsePolicy("\(retention).policies[\(index)]", tree: &tree) {
                config.retention.policies.append(policy)
            }
        }

        for index in 0..<tree.count("immutabletags") {
            let key = "immutabletags[\(index)]"
            guard tree.value(key) is [String: Any] else {
                tree.problem("\(key): expected a mapping with repositories and tags")
                continue
            }
            tree.reportUnknownKeys(in: key, allowed: ["repositories", "tags"], refuse: true)
            let repositories = globs("\(key).repositories", tree: &tree)
            let tags = globs("\(key).tags", tree: &tree)
            if !tree.contains("\(key).repositories") { tree.problem("\(key).repositories: required") }
            if !tree.contains("\(key).tags") { tree.problem("\(key).tags: required") }
            config.immutableTags.append(ImmutableTagRule(repositories: repositories, tags: tags, index: index))
        }
    }

    /// The settings the core runs with.
    public var settings: RegistrySettings {
        var settings = RegistrySettings()
        settings.readOnly = storage.readOnly
        settings.deleteEnabled = storage.deleteEnabled
        settings.garbageCollection = garbageCollection
        settings.retention = retention
        settings.immutableTags = immutableTags
        settings.validation = validation
        return settings
    }

    private static func parsePolicy(_ key: String, tree: inout ConfigurationTree) -> RetentionPolicy? {
        guard tree.value(key) is [String: Any] else {
            tree.problem("\(key): expected a mapping with repositories and keeptags")
            return nil
        }
        tree.reportUnknownKeys(in: key, allowed: ["repositories", "keeptags", "deleteuntagged"], refuse: true)
        let repositories = globs("\(key).repositories", tree: &tree)
        if !tree.contains("\(key).repositories") { tree.problem("\(key).repositories: required") }
        var rules: [RetentionPolicy.KeepRule] = []
        for index in 0..<tree.count("\(key).keeptags") {
            if let rule = parseKeepRule("\(key).keeptags[\(index)]", tree: &tree) { rules.append(rule) }
        }
        return RetentionPolicy(repositories: repositories, keepTags: rules,
                               deleteUntagged: tree.bool("\(key).deleteuntagged", default: false))
    }

    private static func parseKeepRule(_ key: String, tree: inout ConfigurationTree) -> RetentionPolicy.KeepRule? {
        guard tree.value(key) is [String: Any] else {
            tree.problem("\(key): expected a mapping")
            return nil
        }
        tree.reportUnknownKeys(in: key, allowed: ["patterns", "mostrecentlypushedcount", "mostrecentlypulledcount",
                                                  "pushedwithin", "pulledwithin"], refuse: true)
        var rule = RetentionPolicy.KeepRule()
        for (index, source) in tree.strings("\(key).patterns").enumerated() {
            do {
                rule.patterns.append(try RegularExpression(source))
            } catch {
                tree.problem("\(key).patterns[\(index)]: invalid regular expression")
            }
        }
        func count(_ name: String) -> Int? {
            guard tree.contains("\(key).\(name)") else { return nil }
            return tree.integer("\(key).\(name)", default: 0, in: 0...Int.max, expected: "a non-negative integer")
        }
        func duration(_ name: String) -> TimeInterval? {
            guard tree.contains("\(key).\(name)") else { return nil }
            let seconds = tree.duration("\(key).\(name)", default: 0)
            if seconds < 0 { tree.problem("\(key).\(name): must not be negative") }
            return seconds
        }
        rule.mostRecentlyPushedCount = count("mostrecentlypushedcount")
        rule.mostRecentlyPulledCount = count("mostrecentlypulledcount")
        rule.pushedWithin = duration("pushedwithin")
        rule.pulledWithin = duration("pulledwithin")
        return rule
    }

    private static func globs(_ key: String, tree: inout ConfigurationTree) -> [GlobPattern] {
        var result: [GlobPattern] = []
        for (index, source) in tree.strings(key).enumerated() {
            do {
                result.append(try GlobPattern(source))
            } catch {
                tree.problem("\(key)[\(index)]: \(error.description)")
            }
        }
        return result
    }
}
