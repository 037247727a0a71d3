import Foundation
import Yams

/// A parsed YAML document with environment overrides applied, read by key path: the one reader
/// both servers' configurations go through.
///
/// Distribution's rule: a prefix (`REGISTRY_`, or berth-auth's `BERTH_AUTH_`) + the key path
/// upper-cased and joined by `_` overrides that key (`REGISTRY_HTTP_TLS_CERTIFICATE` ->
/// `http.tls.certificate`). Overrides are matched against the known keys, so keys that contain
/// underscores themselves (`server.ratelimit.per_minute`) resolve unambiguously.
/// Readers record every problem with its key path and go on, so one run reports them all;
/// `finish` throws them together.
public struct ConfigurationTree {
    public private(set) var root: [String: Any]
    public private(set) var problems: [String] = []
    public private(set) var warnings: [String] = []
    /// Where relative paths resolve; nil keeps them relative to the working directory.
    public let baseDirectory: String?

    public init(yaml: String, environment: [String: String], knownKeys: [String], prefix: String,
                baseDirectory: String? = nil) throws {
        self.baseDirectory = baseDirectory
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

    /// The value at a key path; a segment may index a list, as problems name list items
    /// (`notifications.endpoints[0].url`).
    public func value(_ key: String) -> Any? {
        var node: Any? = root
        for part in key.split(separator: ".") {
            var name = part
            var indexes: [Int] = []
            while name.hasSuffix("]"), let open = name.lastIndex(of: "["),
                  let index = Int(name[name.index(after: open)..<name.index(before: name.endIndex)]) {
                indexes.insert(index, at: 0)
                name = name[..<open]
            }
            guard let dictionary = node as? [String: Any] else { return nil }
            node = dictionary[String(name)]
            for index in indexes {
                guard let list = node as? [Any], list.indices.contains(index) else { return nil }
                node = list[index]
            }
        }
        return node
    }

    /// How many items the list at `key` has; a single value counts as a problem.
    public mutating func count(_ key: String) -> Int {
        guard let raw = value(key) else { return 0 }
        guard let list = raw as? [Any] else {
            problems.append("\(key): expected a list")
            return 0
        }
        return list.count
    }

    public func contains(_ key: String) -> Bool { value(key) != nil }

    public mutating func string(_ key: String, default fallback: String? = nil) -> String? {
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

    public mutating func bool(_ key: String, default fallback: Bool) -> Bool {
        guard let raw = value(key) else { return fallback }
        if let flag = raw as? Bool { return flag }
        if let text = raw as? String, let flag = Bool(text.lowercased()) { return flag }
        problems.append("\(key): expected true or false")
        return fallback
    }

    public mutating func strings(_ key: String) -> [String] {
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
    public mutating func duration(_ key: String, default fallback: TimeInterval) -> TimeInterval {
        guard let raw = value(key) else { return fallback }
        if let seconds = raw as? Int { return TimeInterval(seconds) }
        if let text = raw as? String, let seconds = Self.parseDuration(text) { return seconds }
        problems.append("\(key): expected a duration such as 24h, 30m, 10s or 500ms")
        return fallback
    }

    public static func parseDuration(_ text: String) -> TimeInterval? {
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

    public mutating func problem(_ message: String) { problems.append(message) }
    public mutating func warn(_ message: String) { warnings.append(message) }

    /// Warns about every key not in `known`; subtrees under `opaque` prefixes are not inspected.
    public mutating func warnAboutUnknownKeys(known: Set<String>, opaque: [String]) {
        func walk(_ node: [String: Any], _ prefix: String) {
            for (key, child) in node.sorted(by: { $0.key < $1.key }) {
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                if known.contains(path) || opaque.contains(where: { path == $0 || path.hasPrefix($0 + ".") }) { continue }
                if let dictionary = child as? [String: Any], known.contains(where: { $0.hasPrefix(path + ".") }) {
                    walk(dictionary, path)
                } else {
                    warnings.append("\(path): unknown configuration key; ignored")
                }
            }
        }
        walk(root, "")
    }

    /// For the mappings inside lists, which the known key paths do not reach: each key of the
    /// mapping at `key` not in `allowed` is a problem when `refuse` (Berth's own lists), else a
    /// warning (Distribution's lists, whose newer keys a Distribution config may carry).
    public mutating func reportUnknownKeys(in key: String, allowed: Set<String>, refuse: Bool) {
        guard let map = value(key) as? [String: Any] else { return }
        for name in map.keys.sorted() where !allowed.contains(name) {
            if !refuse {
                warnings.append("\(key).\(name): unknown configuration key; ignored")
            } else {
                problems.append("\(key).\(name): unknown key (expected one of \(allowed.sorted().joined(separator: ", ")))")
            }
        }
    }

    /// A whole number within `range`.
    public mutating func integer(_ key: String, default fallback: Int, in range: ClosedRange<Int>, expected: String) -> Int {
        guard let raw = value(key) else { return fallback }
        if let number = raw as? Int, range.contains(number) { return number }
        if let text = raw as? String, let number = Int(text), range.contains(number) { return number }
        problems.append("\(key): expected \(expected)")
        return fallback
    }

    /// A `{Name: [values]}` map of HTTP headers (a single value counts as a list of one), in name order.
    public mutating func headers(_ key: String) -> [(String, [String])] {
        guard let raw = value(key) else { return [] }
        guard let map = raw as? [String: Any] else {
            problems.append("\(key): expected a mapping of header names to lists of values")
            return []
        }
        return map.sorted { $0.key < $1.key }.map { name, values in
            (name, (values as? [Any])?.map { "\($0)" } ?? ["\(values)"])
        }
    }

    /// A listen address: `host:port`, `:port` (all interfaces) or `[v6]:port`.
    public mutating func address(_ key: String, default fallback: ListenAddress) -> ListenAddress {
        guard let text = string(key) else { return fallback }
        if let address = ListenAddress(text) { return address }
        problems.append("\(key): expected host:port, got \"\(text)\"")
        return fallback
    }

    /// `path` resolved against the configuration's base directory (absolute paths unchanged).
    public func resolve(_ path: String) -> String {
        guard let baseDirectory, !path.hasPrefix("/") else { return path }
        return "\(baseDirectory)/\(path)"
    }

    /// What a server will open: a readable file, not a directory (Debian's own config.yml names the
    /// directory /etc/docker/registry as its htpasswd path), so checking a configuration refuses
    /// what serving it would fail on.
    public static func isReadableRegularFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            && FileManager.default.isReadableFile(atPath: path)
    }

    /// Throws every problem recorded, or returns the warnings to log.
    public func finish() throws(ConfigurationError) -> [String] {
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        return warnings
    }
}
