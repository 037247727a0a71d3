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
        if let raw = tree.value("\(retention).policies") {
            if let list = raw as? [Any] {
                for (index, entry) in list.enumerated() {
                    if let policy = parsePolicy(entry, key: "\(retention).policies[\(index)]", tree: &tree) {
                        config.retention.policies.append(policy)
                    }
                }
            } else {
                tree.problem("\(retention).policies: expected a list of policies")
            }
        }

        if let raw = tree.value("immutabletags") {
            if let list = raw as? [Any] {
                for (index, entry) in list.enumerated() {
                    let key = "immutabletags[\(index)]"
                    guard let map = entry as? [String: Any] else {
                        tree.problem("\(key): expected a mapping with repositories and tags")
                        continue
                    }
                    unknownKeys(map, allowed: ["repositories", "tags"], key: key, tree: &tree)
                    let repositories = globs(map["repositories"], key: "\(key).repositories", tree: &tree)
                    let tags = globs(map["tags"], key: "\(key).tags", tree: &tree)
                    if map["repositories"] == nil { tree.problem("\(key).repositories: required") }
                    if map["tags"] == nil { tree.problem("\(key).tags: required") }
                    config.immutableTags.append(ImmutableTagRule(repositories: repositories, tags: tags, index: index))
                }
            } else {
                tree.problem("immutabletags: expected a list of rules")
            }
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

    private static func parsePolicy(_ entry: Any, key: String, tree: inout ConfigurationTree) -> RetentionPolicy? {
        guard let map = entry as? [String: Any] else {
            tree.problem("\(key): expected a mapping with repositories and keeptags")
            return nil
        }
        unknownKeys(map, allowed: ["repositories", "keeptags", "deleteuntagged"], key: key, tree: &tree)
        let repositories = globs(map["repositories"], key: "\(key).repositories", tree: &tree)
        if map["repositories"] == nil { tree.problem("\(key).repositories: required") }
        var rules: [RetentionPolicy.KeepRule] = []
        if let raw = map["keeptags"] {
            if let list = raw as? [Any] {
                for (index, item) in list.enumerated() {
                    if let rule = parseKeepRule(item, key: "\(key).keeptags[\(index)]", tree: &tree) { rules.append(rule) }
                }
            } else {
                tree.problem("\(key).keeptags: expected a list of rules")
            }
        }
        var deleteUntagged = false
        if let raw = map["deleteuntagged"] {
            if let flag = raw as? Bool { deleteUntagged = flag } else { tree.problem("\(key).deleteuntagged: expected true or false") }
        }
        return RetentionPolicy(repositories: repositories, keepTags: rules, deleteUntagged: deleteUntagged)
    }

    private static func parseKeepRule(_ item: Any, key: String, tree: inout ConfigurationTree) -> RetentionPolicy.KeepRule? {
        guard let map = item as? [String: Any] else {
            tree.problem("\(key): expected a mapping")
            return nil
        }
        unknownKeys(map, allowed: ["patterns", "mostrecentlypushedcount", "mostrecentlypulledcount", "pushedwithin", "pulledwithin"],
                    key: key, tree: &tree)
        var rule = RetentionPolicy.KeepRule()
        for (index, source) in strings(map["patterns"], key: "\(key).patterns", tree: &tree).enumerated() {
            do {
                rule.patterns.append(try RegularExpression(source))
            } catch {
                tree.problem("\(key).patterns[\(index)]: invalid regular expression")
            }
        }
        func count(_ name: String) -> Int? {
            guard let raw = map[name] else { return nil }
            if let value = raw as? Int, value >= 0 { return value }
            tree.problem("\(key).\(name): expected a non-negative integer")
            return nil
        }
        func duration(_ name: String) -> TimeInterval? {
            guard let raw = map[name] else { return nil }
            if let seconds = raw as? Int, seconds >= 0 { return TimeInterval(seconds) }
            if let text = raw as? String, let seconds = ConfigurationTree.parseDuration(text) { return seconds }
            tree.problem("\(key).\(name): expected a duration such as 720h or 30m")
            return nil
        }
        rule.mostRecentlyPushedCount = count("mostrecentlypushedcount")
        rule.mostRecentlyPulledCount = count("mostrecentlypulledcount")
        rule.pushedWithin = duration("pushedwithin")
        rule.pulledWithin = duration("pulledwithin")
        return rule
    }

    private static func globs(_ raw: Any?, key: String, tree: inout ConfigurationTree) -> [GlobPattern] {
        var result: [GlobPattern] = []
        for (index, source) in strings(raw, key: key, tree: &tree).enumerated() {
            do {
                result.append(try GlobPattern(source))
            } catch {
                tree.problem("\(key)[\(index)]: \(error.description)")
            }
        }
        return result
    }

    private static func strings(_ raw: Any?, key: String, tree: inout ConfigurationTree) -> [String] {
        guard let raw else { return [] }
        if let text = raw as? String { return [text] }
        if let list = raw as? [Any], list.allSatisfy({ $0 is String }) { return list.compactMap { $0 as? String } }
        tree.problem("\(key): expected a list of strings")
        return []
    }

    private static func unknownKeys(_ map: [String: Any], allowed: Set<String>, key: String, tree: inout ConfigurationTree) {
        for name in map.keys.sorted() where !allowed.contains(name) {
            tree.problem("\(key).\(name): unknown key (expected one of \(allowed.sorted().joined(separator: ", ")))")
        }
    }
}
