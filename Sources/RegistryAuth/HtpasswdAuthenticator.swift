import Crypto
import Foundation
import HummingbirdBcrypt

/// `auth.htpasswd`: HTTP Basic credentials checked against bcrypt entries, as Distribution does.
///
/// Any authenticated user may do anything (Distribution's htpasswd controller has no ACL).
/// Unknown users are checked against a dummy hash so that they take as long as wrong passwords.
/// Successful checks are remembered by a SHA-256 of the header (never the header itself), so
/// bcrypt's deliberate cost is paid once per credential, not on every request.
///
/// `@unchecked Sendable`: `verified` is only touched under `lock`.
public final class HtpasswdAuthenticator: RequestAuthenticator, @unchecked Sendable {
    private let realm: String
    private let path: String
    private let lock = NSLock()
    private var file: HtpasswdFile
    private var fileModified: Date?
    private var verified: [SHA256Digest: (user: String, hash: String)] = [:]
    private static let maximumRemembered = 10_000
    /// bcrypt of a random string: unknown users are verified against it.
    private static let dummyHash = Bcrypt.hash(UUID().uuidString, cost: 10)

    public init(realm: String, path: String) throws {
        self.realm = realm
        self.path = path
        self.file = try HtpasswdFile(path: path)
        self.fileModified = Self.modificationDate(path)
    }

    public func authorize(authorization: String?, clientAddress: String?, required: [AccessScope]) async -> AuthorizationDecision {
        let challenge = AuthorizationDecision.challenge(AuthChallenge(
            code: .unauthorized, message: "authentication required",
            wwwAuthenticate: "Basic realm=\"\(realm.replacingOccurrences(of: "\"", with: ""))\""))
        guard let authorization, let (user, password) = Self.basicCredentials(authorization) else { return challenge }
        let key = SHA256.hash(data: Data(authorization.utf8))
        let (hash, remembered) = currentEntry(for: user, key: key)
        if remembered { return .allowed(subject: user) }
        // Always run bcrypt, against a dummy hash for unknown users: same timing either way.
        let matches = Bcrypt.verify(password, hash: hash ?? Self.dummyHash)
        guard matches, let hash else { return challenge }
        lock.withLock {
            if verified.count >= Self.maximumRemembered { verified.removeAll() }
            verified[key] = (user, hash)
        }
        return .allowed(subject: user)
    }

    /// The user's current hash, and whether this exact header was already verified against it.
    /// Re-reads the file when it changed, so password changes and removals take effect.
    private func currentEntry(for user: String, key: SHA256Digest) -> (String?, Bool) {
        lock.withLock {
            let modified = Self.modificationDate(path)
            if modified != fileModified, let reloaded = try? HtpasswdFile(path: path) {
                file = reloaded
                fileModified = modified
                verified.removeAll()
            }
            let hash = file.entries[user]
            if let hash, let known = verified[key], known.user == user, known.hash == hash { return (hash, true) }
            return (hash, false)
        }
    }

    private static func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    /// `Basic base64(user:password)` split into its parts; nil when malformed.
    static func basicCredentials(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8),
              let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}
