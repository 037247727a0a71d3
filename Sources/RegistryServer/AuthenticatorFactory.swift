import RegistryAuth

/// Builds the access controller `auth` configures: none, htpasswd (Basic, bcrypt) or bearer tokens.
enum AuthenticatorFactory {
    static func make(_ authentication: RegistryConfiguration.Authentication) throws -> (any RequestAuthenticator)? {
        switch authentication {
        case .none:
            return nil
        case .htpasswd, .token:
            // Wired to RegistryAuth's HtpasswdAuthenticator / TokenAuthenticator once they land.
            throw ConfigurationError(problems: ["auth: this build has no access controllers yet"])
        }
    }
}
