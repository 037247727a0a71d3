import Crypto
import Foundation

/// Refresh tokens (Docker's `identitytoken`): opaque random strings bound to an account and client.
///
/// Kept in memory, by SHA-256 only, so a leaked memory dump or log shows no usable token; a restart
/// of berth-auth makes clients log in again, which is the safe failure. Opaque rather than signed
/// because a refresh token must be revocable and never parsed by the registry.
///
/// `@unchecked Sendable`: `tokens` is only touched under `lock`.
public final class RefreshTokenStore: @unchecked Sendable {
    public struct Grant: Sendable, Equatable {
        public let account: String
        public let clientID: String
        public let expiry: Date
    }

    private let lock = NSLock()
    private var tokens: [SHA256Digest: Grant] = [:]
    private let lifetime: TimeInterval

    public init(lifetime: TimeInterval = 90 * 24 * 3600) {
        self.lifetime = lifetime
    }

    public func issue(account: String, clientID: String) -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        let token = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let grant = Grant(account: account, clientID: clientID, expiry: Date().addingTimeInterval(lifetime))
        lock.withLock {
            if tokens.count > 100_000 { tokens = tokens.filter { $0.value.expiry > Date() } }
            tokens[SHA256.hash(data: Data(token.utf8))] = grant
        }
        return token
    }

    /// The grant behind `token` when it is valid and was issued to `clientID`.
    public func redeem(_ token: String, clientID: String) -> Grant? {
        lock.withLock {
            guard let grant = tokens[SHA256.hash(data: Data(token.utf8))], grant.expiry > Date(),
                  grant.clientID == clientID else { return nil }
            return grant
        }
    }
}
