import Foundation
import Yams

/// A parsed YAML document with Distribution's environment overrides applied, read by key path.
///
/// Distribution's rule: `REGISTRY_` + the key path upper-cased and joined by `_` overrides that
/// key (`REGISTRY_HTTP_TLS_CERTIFICATE` -> `http.tls.certificate`). Overrides are matched against
/// the known keys, so keys that contain underscores themselves resolve unambiguously.
struct ConfigurationTree {
    private(set) var root: [String: Any]
    private(set) var problems: [String] = []
    private(set) var warnings: [String] = []

    init(yaml: String, environment: [String: String], knownKeys: [String], prefix: String = "REGISTRY_") throws {
        let loaded = try Yams.load(yaml: yaml)
        if loaded == nil {
            root = [:]
        } else if let dictionary = loaded as? [String: Any] {
            root = dictionary
        } else {
            throw ConfigurationError(problems: ["<root>: the configuration must be a mapping"])
        }
        let byEnvironmentName = Dictionary(knownKeys.map { (prefix + $0.uppercased().replacingOccurrences(of: ".", with: "_"), $0) },
                                           uniquingKeysWith: { first, _ in first })
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix(prefix) {
            guard let key = byEnvironmentName[name] else {
                warnings.append("environment variable \(name) does not match a known key; ignored")
                continue
            }
            let parsed = (try? Yams.load(yaml: value)) ?? value
            set(key.split(separator: ".").map(String.init), to: parsed ?? value)
        }
    }

    private mutating func set(_ path: [String], to value: Any) {
        func assign(_ dictionary: [String: Any], _ path: ArraySlice<String>) -> [String: Any] {
            var copy = dictionary
            guard let head = path.first else { return copy }
            if path.count == 1 {
                copy[head] = value
            } else {
                copy[head] = assign(copy[head] as? [String: Any] ?? [:], path.dropFirst())
            }
            return copy
        }
        root = assign(root, path[...])
    }

    func value(_ key: String) -> Any? {
        var node: Any? = root
        for part in key.split(separator: ".") {
            guard let dictionary = node as? [String: Any] else { return nil }
            node = dictionary[String(part)]
        }
        return node
    }

    func contains(_ key: String) -> Bool { value(key) != nil }

    mutating func string(_ key: String, default fallback: String? = nil) -> String? {
        guard let raw = value(key) else { return fallback }
        switch raw {
        case let text as String: return text
        case let number as Int: return String(number)
        case let number as Double: return String(number)
        case let flag as Bool: return String(flag)
        default:
            problems.append("\(key): expected a string")
            return fallback
        }
    }

    mutating func bool(_ key: String, default fallback: Bool) -> Bool {
        guard let raw = value(key) else { return fallback }
        if let flag = raw as? Bool { return flag }
        if let text = raw as? String, let flag = Bool(text.lowercased()) { return flag }
        problems.append("\(key): expected true or false")
        return fallback
    }

    mutating func strings(_ key: String) -> [String] {
        guard let raw = value(key) else { return [] }
        if let list = raw as? [Any] {
            let texts = list.compactMap { $0 as? String }
            if texts.count != list.count { problems.append("\(key): expected a list of strings") }
            return texts
        }
        if let text = raw as? String { return [text] }
        problems.append("\(key): expected a list of strings")
        return []
    }

    /// A Go-style duration (`168h`, `1h30m`, `10s`, `500ms`) or a number of seconds.
    mutating func duration(_ key: String, default fallback: TimeInterval) -> TimeInterval {
        guard let raw = value(key) else { return fallback }
        if let seconds = raw as? Int { return TimeInterval(seconds) }
        if let text = raw as? String, let seconds = Self.parseDuration(text) { return seconds }
        problems.append("\(key): expected a duration such as 24h, 30m or 10s")
        return fallback
    }

    static func parseDuration(_ text: String) -> TimeInterval? {
        let units: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            total += value * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        return total
    }

    mutating func problem(_ message: String) { problems.append(message) }
    mutating func warn(_ message: String) { warnings.append(message) }

    /// Warns about every key not in `known`; subtrees under `opaque` prefixes are not inspected.
    mutating func warnAboutUnknownKeys(known: Set<String>, opaque: [String]) {
        func walk(_ node: [String: Any], _ prefix: String) {
            for (key, child) in node.sorted(by: { $0.key < $1.key }) {
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                if opaque.contains(where: { path == $0 || path.hasPrefix($0 + ".") }) { continue }
                if known.contains(path) { continue }
                if let dictionary = child as? [String: Any], known.contains(where: { $0.hasPrefix(path + ".") }) {
                    walk(dictionary, path)
                } else if child is [String: Any] && known.contains(where: { $0.hasPrefix(path + ".") }) == false
                            && !known.contains(path) {
                    warnings.append("\(path): unknown configuration key; ignored")
                } else {
                    warnings.append("\(path): unknown configuration key; ignored")
                }
            }
        }
        walk(root, "")
    }
}

/// Configuration problems, each naming the key path.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let problems: [String]
    public var description: String { "invalid configuration:\n" + problems.map { "  \($0)" }.joined(separator: "\n") }
}
