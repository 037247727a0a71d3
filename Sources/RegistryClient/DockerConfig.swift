import Foundation
import OCI

/// Docker's `config.json`: stored credentials, credential helpers and the credential store.
///
/// Reads and writes the file as Docker does (`auths.<host>.auth` = base64 `user:password`,
/// `identitytoken` for refresh tokens, `credHelpers`, `credsStore`) and keeps every key it does
/// not know when rewriting it. See https://docs.docker.com/reference/cli/docker/login/
public struct DockerConfig: Sendable {
    /// Where the file lives: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    public let path: String

    public init(path: String) { self.path = path }

    /// The file named by the environment.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> DockerConfig {
        if let dir = env["DOCKER_CONFIG"], !dir.isEmpty { return DockerConfig(path: dir + "/config.json") }
        let home = env["HOME"] ?? NSHomeDirectory()
        return DockerConfig(path: home + "/.docker/config.json")
    }

    /// The key config.json uses for a registry host (Docker Hub keeps its legacy URL).
    public static func key(for host: String) -> String {
        host == ImageReference.dockerHub || host == "index.docker.io" || host == "registry-1.docker.io"
            ? "https://index.docker.io/v1/" : host
    }

    /// Reduces `https://host/v1/` style keys to `host` for matching.
    static func normalise(_ key: String) -> String {
        var k = Substring(key)
        if let r = k.range(of: "://") { k = k[r.upperBound...] }
        if let slash = k.firstIndex(of: "/") { k = k[..<slash] }
        return k == "index.docker.io" ? ImageReference.dockerHub : String(k)
    }

    /// The parsed JSON object, or an empty one when the file is missing.
    func load() throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        if data.isEmpty { return [:] }
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ConfigError.malformed(path)
        }
        return object
    }

    /// Writes the object back atomically with mode 0600.
    func save(_ object: [String: Any]) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw ConfigError.unwritable(path)
        }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw ConfigError.unwritable(path)
        }
    }

    /// The credential helper configured for a host: `credHelpers[host]`, else `credsStore`.
    public func helper(for host: String) throws -> String? {
        let object = try load()
        let wanted = Self.normalise(Self.key(for: host))
        if let helpers = object["credHelpers"] as? [String: String] {
            for (k, v) in helpers where Self.normalise(k) == wanted && !v.isEmpty { return v }
        }
        if let store = object["credsStore"] as? String, !store.isEmpty { return store }
        return nil
    }

    /// Credentials stored for a host, from a helper or from `auths`.
    public func credentials(for host: String) throws -> Credentials? {
        if let helper = try helper(for: host) {
            return try CredentialHelper(name: helper).get(serverURL: Self.key(for: host))
        }
        let object = try load()
        guard let auths = object["auths"] as? [String: Any] else { return nil }
        let wanted = Self.normalise(Self.key(for: host))
        for (k, v) in auths where Self.normalise(k) == wanted {
            guard let entry = v as? [String: Any] else { continue }
            var username = entry["username"] as? String ?? ""
            var password = entry["password"] as? String
            if let auth = entry["auth"] as? String, !auth.isEmpty,
               let decoded = Base64.decode(auth).map({ String(decoding: $0, as: UTF8.self) }),
               let colon = decoded.firstIndex(of: ":") {
                username = String(decoded[..<colon])
                password = String(decoded[decoded.index(after: colon)...])
            }
            let token = (entry["identitytoken"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            if password == nil && token == nil { continue }
            return Credentials(username: username, password: token == nil ? password : nil, identityToken: token)
        }
        return nil
    }

    /// Stores credentials for a host (helper if configured, else base64 in `auths`).
    public func store(_ credentials: Credentials, for host: String) throws {
        if let helper = try helper(for: host) {
            try CredentialHelper(name: helper).store(serverURL: Self.key(for: host), credentials: credentials)
            return
        }
        var object = try load()
        var auths = object["auths"] as? [String: Any] ?? [:]
        let key = Self.key(for: host)
        for k in auths.keys where Self.normalise(k) == Self.normalise(key) { auths[k] = nil }
        var entry: [String: Any] = [:]
        if let token = credentials.identityToken {
            entry["auth"] = Base64.encode(Array("\(credentials.username):".utf8))
            entry["identitytoken"] = token
        } else if let password = credentials.password {
            entry["auth"] = Base64.encode(Array("\(credentials.username):\(password)".utf8))
        }
        auths[key] = entry
        object["auths"] = auths
        try save(object)
    }

    /// Removes a host's credentials; returns whether anything was removed.
    @discardableResult
    public func erase(host: String) throws -> Bool {
        if let helper = try helper(for: host) {
            try CredentialHelper(name: helper).erase(serverURL: Self.key(for: host))
            return true
        }
        var object = try load()
        guard var auths = object["auths"] as? [String: Any] else { return false }
        let wanted = Self.normalise(Self.key(for: host))
        let keys = auths.keys.filter { Self.normalise($0) == wanted }
        guard !keys.isEmpty else { return false }
        for k in keys { auths[k] = nil }
        object["auths"] = auths
        try save(object)
        return true
    }

    /// Problems with the file itself.
    public enum ConfigError: Error, CustomStringConvertible {
        case malformed(String)
        case unwritable(String)
        public var description: String {
            switch self {
            case .malformed(let p): return "\(p) is not a JSON object"
            case .unwritable(let p): return "cannot write \(p)"
            }
        }
    }
}
