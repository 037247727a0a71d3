import Foundation
import HummingbirdBcrypt
import NIOPosix
import RegistryAuth

/// Users and their bcrypt hashes, from an htpasswd file and/or the config's `users.static`.
///
/// Checking a password always runs bcrypt, against a dummy hash for unknown users, so that an
/// unknown user and a wrong password take the same time. bcrypt runs on NIO's thread pool, not on
/// the request's executor.
public struct UserStore: Sendable {
    let hashes: [String: String]
    private static let dummyHash = Bcrypt.hash(UUID().uuidString, cost: 10)

    public init(htpasswdPath: String?, staticUsers: [String: String]) throws {
        var hashes = staticUsers.mapValues { $0.hasPrefix("$2y$") ? "$2b$" + $0.dropFirst(4) : $0 }
        if let path = htpasswdPath {
            for (user, hash) in try HtpasswdFile(path: path).entries where hashes[user] == nil {
                hashes[user] = hash
            }
        }
        self.hashes = hashes
    }

    public func verify(user: String, password: String) async -> Bool {
        let hash = hashes[user]
        let matches = (try? await NIOThreadPool.singleton.runIfActive {
            Bcrypt.verify(password, hash: hash ?? Self.dummyHash)
        }) ?? false
        return matches && hash != nil
    }
}
