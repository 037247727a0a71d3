import RegistryAuth

/// Builds the access controller `auth` configures: none, htpasswd (Basic, bcrypt) or bearer tokens.
enum AuthenticatorFactory {
    static func make(_ authentication: RegistryConfiguration.Authentication) throws -> (any RequestAuthenticator)? {
        switch authentication {
        case .none:
            return nil
        case .htpasswd(let realm, let path):
            do { return try HtpasswdAuthenticator(realm: realm, path: path) } catch {
                throw ConfigurationError(problems: ["auth.htpasswd.path: \(error)"])
            }
        case .token:
            // Wired to RegistryAuth's TokenAuthenticator (berth-auth issue).
            throw ConfigurationError(problems: ["auth.token: bearer-token verification is not in this build yet"])
        }
    }
}
