import Foundation
import ServerConfiguration

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
/// Relative paths resolve against the config file's directory. Every key can be overridden by
/// `BERTH_AUTH_<PATH>` in the environment (`BERTH_AUTH_SERVER_ADDR`,
/// `BERTH_AUTH_SERVER_RATELIMIT_PER_MINUTE`), read through the same `ConfigurationTree` as the
/// registry's `REGISTRY_` overrides.
public struct TokenServiceConfiguration: Sendable {
    public var address = ListenAddress(host: "127.0.0.1", port: 5001)
    public var tls: TLSSettings?
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

    static let knownKeys = ["server.addr", "server.tls.certificate", "server.tls.key", "server.tls.clientcas",
                            "server.tls.minimumtls", "server.ratelimit.burst", "server.ratelimit.per_minute",
                            "token.issuer", "token.service", "token.expiration", "token.certificate", "token.key",
                            "users.htpasswd", "users.static", "acl"]

    /// Reads a configuration file with the environment's `BERTH_AUTH_` overrides.
    public static func load(path: String, environment: [String: String]) throws -> TokenServiceConfiguration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError(problems: ["\(path): cannot read the configuration file"])
        }
        let base = (path as NSString).deletingLastPathComponent
        return try parse(yaml: text, environment: environment, baseDirectory: base.isEmpty ? "." : base)
    }

    /// Parses YAML text; throws every problem with its key path.
    public static func parse(yaml: String, environment: [String: String] = [:],
                             baseDirectory: String) throws -> TokenServiceConfiguration {
        var tree = try ConfigurationTree(yaml: yaml, environment: environment, knownKeys: knownKeys,
                                         prefix: "BERTH_AUTH_", baseDirectory: baseDirectory)
        tree.warnAboutUnknownKeys(known: Set(knownKeys), opaque: ["users.static", "acl"])
        var config = TokenServiceConfiguration()
        config.address = tree.address("server.addr", default: config.address)
        config.tls = TLSSettings.read("server.tls", from: &tree)
        if tree.contains("server.tls") && config.tls == nil {
            tree.problem("server.tls: certificate and key are both required")
        }
        config.burst = tree.integer("server.ratelimit.burst", default: config.burst, in: 1...Int.max,
                                    expected: "a positive integer")
        config.perMinute = tree.integer("server.ratelimit.per_minute", default: config.perMinute, in: 1...Int.max,
                                        expected: "a positive integer")
        config.issuer = tree.string("token.issuer") ?? ""
        if config.issuer.isEmpty { tree.problem("token.issuer: required") }
        config.services = tree.strings("token.service")
        if config.services.isEmpty { tree.problem("token.service: required (a string or a list of strings)") }
        config.expiration = TimeInterval(tree.integer("token.expiration", default: Int(config.expiration), in: 1...86400,
                                                      expected: "seconds between 1 and 86400"))
        config.certificatePath = readableFile("token.certificate", &tree) ?? ""
        config.keyPath = readableFile("token.key", &tree) ?? ""
        if !tree.contains("token.certificate") { tree.problem("token.certificate: required") }
        if !tree.contains("token.key") { tree.problem("token.key: required") }
        config.htpasswdPath = readableFile("users.htpasswd", &tree)
        config.staticUsers = staticUsers(&tree)
        config.acl = AccessControlList(rules: rules(&tree))
        let warnings = try problemsSorted(tree)
        config.warnings = warnings
        return config
    }

    /// A file the service will read, resolved against the configuration's directory.
    private static func readableFile(_ key: String, _ tree: inout ConfigurationTree) -> String? {
        guard let text = tree.string(key) else { return nil }
        let resolved = tree.resolve(text)
        if !ConfigurationTree.isReadableRegularFile(resolved) { tree.problem("\(key): cannot read \(resolved)") }
        return resolved
    }

    /// `users.static`: user name -> {password: bcrypt hash}.
    private static func staticUsers(_ tree: inout ConfigurationTree) -> [String: String] {
        guard let users = tree.value("users.static") else { return [:] }
        guard let map = users as? [String: Any] else {
            tree.problem("users.static: expected a mapping of user names to {password: bcrypt-hash}")
            return [:]
        }
        var result: [String: String] = [:]
        for (user, entry) in map {
            guard let hash = (entry as? [String: Any])?["password"] as? String,
                  ["$2y$", "$2a$", "$2b$"].contains(where: { hash.hasPrefix($0) }) else {
                tree.problem("users.static.\(user).password: expected a bcrypt hash (berth-auth hash-password)")
                continue
            }
            result[user] = hash
        }
        return result
    }

    /// `acl`: the ordered rules, first match wins.
    private static func rules(_ tree: inout ConfigurationTree) -> [AccessControlList.Rule] {
        guard let list = tree.value("acl") else { return [] }
        guard let entries = list as? [Any] else {
            tree.problem("acl: expected a list of rules")
            return []
        }
        var rules: [AccessControlList.Rule] = []
        for (index, entry) in entries.enumerated() {
            guard let rule = entry as? [String: Any] else { tree.problem("acl[\(index)]: expected a mapping"); continue }
            let match = rule["match"] as? [String: Any] ?? [:]
            for key in match.keys where !["account", "name", "type"].contains(key) {
                tree.problem("acl[\(index)].match.\(key): unknown (use account, name or type)")
            }
            guard let actions = rule["actions"] as? [Any] else { tree.problem("acl[\(index)].actions: required list"); continue }
            do {
                func pattern(_ key: String) throws -> AccessControlList.Pattern? {
                    guard let raw = match[key] else { return nil }
                    return try AccessControlList.Pattern(raw as? String ?? "\(raw)")
                }
                rules.append(.init(account: try pattern("account"), name: try pattern("name"), type: try pattern("type"),
                                   actions: Set(actions.map { "\($0)" })))
            } catch {
                tree.problem("acl[\(index)].match: invalid pattern (\(error))")
            }
        }
        return rules
    }

    /// The tree's warnings, or its problems sorted (the order `verify-config` has always printed).
    private static func problemsSorted(_ tree: ConfigurationTree) throws -> [String] {
        do { return try tree.finish() } catch { throw ConfigurationError(problems: error.problems.sorted()) }
    }
}
