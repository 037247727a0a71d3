import ServerConfiguration

/// `auth`: who may do what. At most one access controller, as in Distribution.
public enum RegistryAuthentication: Sendable {
    case none
    /// `auth.htpasswd`: Basic credentials checked against a bcrypt htpasswd file.
    case htpasswd(realm: String, path: String)
    /// `auth.token`: bearer tokens of the Docker token flow, verified with the issuer's keys.
    case token(realm: String, service: String, issuer: String, rootCertBundle: String?, jwks: String?)

    static func read(from tree: inout ConfigurationTree) -> RegistryAuthentication {
        guard let auth = tree.value("auth") as? [String: Any] else { return .none }
        let kinds = auth.keys.sorted()
        if kinds.count > 1 { tree.problem("auth: only one of htpasswd or token may be configured, got \(kinds.joined(separator: ", "))") }
        for kind in kinds where !["htpasswd", "token"].contains(kind) {
            tree.problem("auth.\(kind): unsupported access controller (use htpasswd or token)")
        }
        if auth["htpasswd"] != nil {
            let realm = tree.string("auth.htpasswd.realm") ?? "Registry Realm"
            guard let path = tree.string("auth.htpasswd.path") else {
                tree.problem("auth.htpasswd.path: required")
                return .none
            }
            let resolved = tree.resolve(path)
            if !ConfigurationTree.isReadableRegularFile(resolved) {
                tree.problem("auth.htpasswd.path: cannot read \(resolved) (not a readable file)")
            }
            return .htpasswd(realm: realm, path: resolved)
        }
        guard auth["token"] != nil else { return .none }
        let realm = tree.string("auth.token.realm")
        let service = tree.string("auth.token.service")
        let issuer = tree.string("auth.token.issuer")
        let bundle = tree.string("auth.token.rootcertbundle").map { tree.resolve($0) }
        let jwks = tree.string("auth.token.jwks").map { tree.resolve($0) }
        if realm == nil { tree.problem("auth.token.realm: required") }
        if service == nil { tree.problem("auth.token.service: required") }
        if issuer == nil { tree.problem("auth.token.issuer: required") }
        if bundle == nil && jwks == nil { tree.problem("auth.token.rootcertbundle: required (or auth.token.jwks)") }
        for path in [bundle, jwks].compactMap({ $0 }) where !ConfigurationTree.isReadableRegularFile(path) {
            tree.problem("auth.token: cannot read \(path)")
        }
        guard let realm, let service, let issuer else { return .none }
        return .token(realm: realm, service: service, issuer: issuer, rootCertBundle: bundle, jwks: jwks)
    }
}
