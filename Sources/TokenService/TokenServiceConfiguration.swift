import Foundation
import Yams

/// berth-auth's configuration file.
///
/// ```yaml
/// server:
///   addr: 127.0.0.1:5001                    # host:port
///   tls: {certificate: auth.crt, key: auth.key}   # optional; TLS 1.2 minimum
///   ratelimit: {burst: 10, per_minute: 30}  # failed logins per account and per address
/// token:
///   issuer: berth-auth
///   service: berth-registry                 # a string or a list: accepted audiences
///   expiration: 300                         # seconds
///   certificate: token.crt                  # PEM chain for the x5c header
///   key: token.key                          # ES256 (P-256), RS256 or EdDSA
/// users:
///   htpasswd: users.htpasswd                # optional, bcrypt entries
///   static: {alice: {password: "$2y$..."}}  # optional
/// acl:                                      # ordered, first match wins; actions [] denies
///   - match: {account: admin}
///     actions: ["*"]
/// ```
/// Relative paths resolve against the config file's directory.
public struct TokenServiceConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 5001
    public var tlsCertificate: String?
    public var tlsKey: String?
    public var burst = 10
    public var perMinute = 30
    public var issuer = ""
    public var services: [String] = []
    public var expiration: TimeInterval = 300
    public var certificatePath = ""
    public var keyPath = ""
    public var htpasswdPath: String?
    public var staticUsers: [String: String] = [:]
    public var acl = AccessControlList(rules: [])
    public var warnings: [String] = []

    public struct Invalid: Error, CustomStringConvertible {
        public let problems: [String]
        public var description: String { "invalid configuration:\n" + problems.map { "  \($0)" }.joined(separator: "\n") }
    }

    static let knownKeys: Set<String> = ["server", "server.addr", "server.tls", "server.tls.certificate", "server.tls.key",
                                         "server.ratelimit", "server.ratelimit.burst", "server.ratelimit.per_minute",
                                         "token", "token.issuer", "token.service", "token.expiration", "token.certificate",
                                         "token.key", "users", "users.htpasswd", "users.static", "acl"]

    public static func load(path: String) throws -> TokenServiceConfiguration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Invalid(problems: ["\(path): cannot read the configuration file"])
        }
        let base = (path as NSString).deletingLastPathComponent
        return try parse(yaml: text, baseDirectory: base.isEmpty ? "." : base)
    }

    public static func parse(yaml: String, baseDirectory: String) throws -> TokenServiceConfiguration {
        guard let root = try Yams.load(yaml: yaml) as? [String: Any] else {
            throw Invalid(problems: ["<root>: the configuration must be a mapping"])
        }
        var config = TokenServiceConfiguration()
        var problems: [String] = []
        func value(_ key: String) -> Any? {
            var node: Any? = root
            for part in key.split(separator: ".") { node = (node as? [String: Any])?[String(part)] }
            return node
        }
        func string(_ key: String) -> String? {
            guard let raw = value(key) else { return nil }
            if let text = raw as? String { return text }
            if let number = raw as? Int { return String(number) }
            problems.append("\(key): expected a string")
            return nil
        }
        func path(_ key: String) -> String? {
            guard let text = string(key) else { return nil }
            let resolved = text.hasPrefix("/") ? text : "\(baseDirectory)/\(text)"
            if !FileManager.default.isReadableFile(atPath: resolved) { problems.append("\(key): cannot read \(resolved)") }
            return resolved
        }
        func warnUnknown(_ node: [String: Any], _ prefix: String) {
            for (key, child) in node {
                let full = prefix.isEmpty ? key : "\(prefix).\(key)"
                if full.hasPrefix("users.static.") || full == "acl" { continue }
                if !knownKeys.contains(full) { config.warnings.append("\(full): unknown configuration key; ignored"); continue }
                if let dictionary = child as? [String: Any], full != "users.static" { warnUnknown(dictionary, full) }
            }
        }
        warnUnknown(root, "")

        if let addr = string("server.addr") {
            if let colon = addr.lastIndex(of: ":"), let port = Int(addr[addr.index(after: colon)...]), (0...65535).contains(port) {
                let host = String(addr[..<colon])
                config.host = host.isEmpty ? "0.0.0.0" : host
                config.port = port
            } else {
                problems.append("server.addr: expected host:port, got \"\(addr)\"")
            }
        }
        if value("server.tls") != nil {
            config.tlsCertificate = path("server.tls.certificate")
            config.tlsKey = path("server.tls.key")
            if config.tlsCertificate == nil || config.tlsKey == nil { problems.append("server.tls: certificate and key are both required") }
        }
        if let burst = value("server.ratelimit.burst") {
            if let number = burst as? Int, number > 0 { config.burst = number } else { problems.append("server.ratelimit.burst: expected a positive integer") }
        }
        if let rate = value("server.ratelimit.per_minute") {
            if let number = rate as? Int, number > 0 { config.perMinute = number } else { problems.append("server.ratelimit.per_minute: expected a positive integer") }
        }
        config.issuer = string("token.issuer") ?? ""
        if config.issuer.isEmpty { problems.append("token.issuer: required") }
        switch value("token.service") {
        case let text as String: config.services = [text]
        case let list as [Any]: config.services = list.compactMap { $0 as? String }
        default: problems.append("token.service: required (a string or a list of strings)")
        }
        if let expiration = value("token.expiration") {
            if let seconds = expiration as? Int, seconds > 0, seconds <= 86400 { config.expiration = TimeInterval(seconds) } else {
                problems.append("token.expiration: expected seconds between 1 and 86400")
            }
        }
        config.certificatePath = path("token.certificate") ?? ""
        config.keyPath = path("token.key") ?? ""
        if value("token.certificate") == nil { problems.append("token.certificate: required") }
        if value("token.key") == nil { problems.append("token.key: required") }
        config.htpasswdPath = path("users.htpasswd")
        if let users = value("users.static") {
            guard let map = users as? [String: Any] else {
                throw Invalid(problems: problems + ["users.static: expected a mapping of user names to {password: bcrypt-hash}"])
            }
            for (user, entry) in map {
                guard let hash = (entry as? [String: Any])?["password"] as? String,
                      ["$2y$", "$2a$", "$2b$"].contains(where: { hash.hasPrefix($0) }) else {
                    problems.append("users.static.\(user).password: expected a bcrypt hash (berth-auth hash-password)")
                    continue
                }
                config.staticUsers[user] = hash
            }
        }
        var rules: [AccessControlList.Rule] = []
        if let list = value("acl") {
            if let entries = list as? [Any] {
                for (index, entry) in entries.enumerated() {
                    guard let rule = entry as? [String: Any] else { problems.append("acl[\(index)]: expected a mapping"); continue }
                    let match = rule["match"] as? [String: Any] ?? [:]
                    for key in match.keys where !["account", "name", "type"].contains(key) {
                        problems.append("acl[\(index)].match.\(key): unknown (use account, name or type)")
                    }
                    guard let actions = rule["actions"] as? [Any] else { problems.append("acl[\(index)].actions: required list"); continue }
                    do {
                        func pattern(_ key: String) throws -> AccessControlList.Pattern? {
                            guard let raw = match[key] else { return nil }
                            return try AccessControlList.Pattern(raw as? String ?? "\(raw)")
                        }
                        rules.append(.init(account: try pattern("account"), name: try pattern("name"), type: try pattern("type"),
                                           actions: Set(actions.map { "\($0)" })))
                    } catch {
                        problems.append("acl[\(index)].match: invalid pattern (\(error))")
                    }
                }
            } else {
                problems.append("acl: expected a list of rules")
            }
        }
        config.acl = AccessControlList(rules: rules)
        if !problems.isEmpty { throw Invalid(problems: problems.sorted()) }
        return config
    }
}
