import Foundation
import OCI
import RegistryAuth

/// berth-auth's `acl`: ordered rules, first match wins; a rule with `actions: []` denies.
///
/// `account`, `name` and `type` match as globs (`GlobPattern`: `*` any run within one `/`-separated
/// segment, `**` any run across segments, `?` one character), or as regular expressions when
/// written `/.../`. `${account}` in a pattern expands to the authenticated account
/// (the empty string for anonymous requests), so `name: "${account}/*"` gives every user a namespace.
public struct AccessControlList: Sendable {
    public struct Rule: Sendable {
        public var account: Pattern?
        public var name: Pattern?
        public var type: Pattern?
        public var actions: Set<String>
    }

    /// A glob or `/regex/`, compiled per request after `${account}` expansion.
    public struct Pattern: Sendable {
        public let source: String

        public init(_ source: String) throws {
            self.source = source
            if source.count >= 2, source.hasPrefix("/"), source.hasSuffix("/") {
                _ = try NSRegularExpression(pattern: String(source.dropFirst().dropLast()))
            } else {
                _ = try GlobPattern(source)
            }
        }

        func matches(_ value: String, account: String) -> Bool {
            if source.count >= 2, source.hasPrefix("/"), source.hasSuffix("/") {
                let body = String(source.dropFirst().dropLast())
                let expanded = body.replacingOccurrences(of: "${account}", with: NSRegularExpression.escapedPattern(for: account))
                guard let regex = try? NSRegularExpression(pattern: "^(?:\(expanded))$") else { return false }
                return regex.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
            }
            let expanded = source.replacingOccurrences(of: "${account}", with: account)
            return (try? GlobPattern(expanded))?.matches(value) ?? false
        }
    }

    public let rules: [Rule]

    public init(rules: [Rule]) {
        self.rules = rules
    }

    /// What `account` may do of what `requested` asks: the intersection with the first matching
    /// rule's actions (`*` in a rule grants every requested action). Empty when nothing matches.
    public func grant(_ requested: AccessScope, to account: String) -> AccessScope {
        var granted = requested
        granted.actions = []
        for rule in rules {
            if let pattern = rule.account, !pattern.matches(account, account: account) { continue }
            if let pattern = rule.name, !pattern.matches(requested.name, account: account) { continue }
            if let pattern = rule.type, !pattern.matches(requested.type, account: account) { continue }
            granted.actions = rule.actions.contains("*") ? requested.actions : requested.actions.intersection(rule.actions)
            if requested.actions.contains("*") && rule.actions.contains("*") { granted.actions = ["*"] }
            return granted
        }
        return granted
    }
}
