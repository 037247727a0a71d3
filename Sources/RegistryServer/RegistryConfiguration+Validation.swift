import Foundation
import OCI
import RegistryCore
import ServerConfiguration

/// Distribution's `validation` keys, with Distribution's meaning.
///
/// Without the section: Distribution 2.8 (any http(s) layer URL, every index child must exist).
/// With it: Distribution 3. Validation is on unless `disabled: true` (2.8's `enabled: true` wins);
/// off, neither URLs nor index children are checked. On, `manifests.urls.allow`/`deny` are regular
/// expressions (empty both: no URL is allowed) and `manifests.indexes.platforms` is `all`, `none`
/// or `list` (only the children of `platformlist`'s platforms must exist).
extension RegistryConfiguration {
    static func parseValidation(_ tree: inout ConfigurationTree, into config: inout RegistryConfiguration) {
        guard tree.contains("validation") else { return }
        let enabled = tree.bool("validation.enabled", default: false) || !tree.bool("validation.disabled", default: false)
        var validation = ManifestValidation()
        guard enabled else {
            validation.urls = .anyHTTP
            validation.indexes = .noChildren
            config.validation = validation
            return
        }
        let allow = expressions("validation.manifests.urls.allow", &tree)
        let deny = expressions("validation.manifests.urls.deny", &tree)
        if allow.isEmpty && deny.isEmpty {
            validation.urls = .rules(allow: try? RegularExpression("^$"), deny: nil)
        } else {
            validation.urls = .rules(allow: allow.isEmpty ? nil : try? RegularExpression(anyOf: allow),
                                     deny: deny.isEmpty ? nil : try? RegularExpression(anyOf: deny))
        }
        let key = "validation.manifests.indexes"
        switch tree.string("\(key).platforms", default: "all")?.lowercased() ?? "all" {
        case "all": validation.indexes = .allChildren
        case "none": validation.indexes = .noChildren
        case "list": validation.indexes = .platforms(platforms("\(key).platformlist", &tree))
        case let other: tree.problem("\(key).platforms: expected all, none or list, got \"\(other.prefix(50))\"")
        }
        config.validation = validation
    }

    /// The sources of a list of regular expressions, each checked (named by its index on error).
    private static func expressions(_ key: String, _ tree: inout ConfigurationTree) -> [String] {
        let sources = tree.strings(key)
        for (index, source) in sources.enumerated() where (try? RegularExpression(source)) == nil {
            tree.problem("\(key)[\(index)]: invalid regular expression")
        }
        return sources
    }

    private static func platforms(_ key: String, _ tree: inout ConfigurationTree) -> [Platform] {
        guard let raw = tree.value(key) else { return [] }
        guard let list = raw as? [Any] else {
            tree.problem("\(key): expected a list of {os, architecture}")
            return []
        }
        var platforms: [Platform] = []
        for (index, entry) in list.enumerated() {
            guard let map = entry as? [String: Any], let os = map["os"] as? String, let architecture = map["architecture"] as? String else {
                tree.problem("\(key)[\(index)]: expected {os: ..., architecture: ...}")
                continue
            }
            platforms.append(.init(os: os, architecture: architecture))
        }
        return platforms
    }
}
