import RegistryAuth
import ServerConfiguration

/// Builds the access controller `auth` configures: none, htpasswd (Basic, bcrypt) or bearer tokens.
enum AuthenticatorFactory {
    static func make(_ authentication: RegistryAuthentication) async throws -> (any RequestAuthenticator)? {
        switch authentication {
        case .none:
            return nil
        case .htpasswd(let realm, let path):
            do { return try HtpasswdAuthenticator(realm: realm, path: path) } catch {
                throw ConfigurationError(problems: ["auth.htpasswd.path: \(error)"])
            }
        case .token(let realm, let service, let issuer, let bundle, let jwks):
            do {
                return try await TokenAuthenticator(realm: realm, service: service, issuer: issuer,
                                                    rootCertBundlePath: bundle, jwksPath: jwks)
            } catch {
                throw ConfigurationError(problems: ["auth.token: \(error)"])
            }
        }
    }
}
