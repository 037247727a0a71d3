import Foundation
import HummingbirdBcrypt
@testable import RegistryAuth
import Testing

@Suite struct HtpasswdAuthenticatorTests {
    func makeFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "htpasswd-\(UUID().uuidString)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    @Test func acceptsRightPasswordOnlyAndChallengesWithBasic() async throws {
        let path = try makeFile("# users\nalice:\(Bcrypt.hash("s3cret", cost: 4))\n")
        let auth = try HtpasswdAuthenticator(realm: "berth", path: path)
        let scopes = [AccessScope.repository("a", "pull")]
        #expect(await auth.authorize(authorization: basic("alice", "s3cret"), clientAddress: nil, required: scopes) == .allowed(subject: "alice"))
        // Remembered credentials still answer the same.
        #expect(await auth.authorize(authorization: basic("alice", "s3cret"), clientAddress: nil, required: scopes) == .allowed(subject: "alice"))
        for header in [basic("alice", "wrong"), basic("mallory", "s3cret"), "Bearer abc", "Basic !!!", nil] as [String?] {
            let decision = await auth.authorize(authorization: header, clientAddress: nil, required: scopes)
            guard case .challenge(let challenge) = decision else {
                Issue.record("expected a challenge for \(String(describing: header))")
                continue
            }
            #expect(challenge.wwwAuthenticate == "Basic realm=\"berth\"")
            #expect(challenge.code == .unauthorized)
        }
    }

    @Test func passwordChangesTakeEffect() async throws {
        let path = try makeFile("bob:\(Bcrypt.hash("one", cost: 4))\n")
        let auth = try HtpasswdAuthenticator(realm: "r", path: path)
        #expect(await auth.authorize(authorization: basic("bob", "one"), clientAddress: nil, required: []) == .allowed(subject: "bob"))
        try await Task.sleep(for: .milliseconds(1100))  // a new mtime
        try "bob:\(Bcrypt.hash("two", cost: 4))\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(await auth.authorize(authorization: basic("bob", "one"), clientAddress: nil, required: []) != .allowed(subject: "bob"))
        #expect(await auth.authorize(authorization: basic("bob", "two"), clientAddress: nil, required: []) == .allowed(subject: "bob"))
    }

    @Test func refusesNonBcryptEntries() throws {
        let path = try makeFile("carol:$apr1$abc$def\n")
        #expect(throws: HtpasswdFile.LoadError.self) { try HtpasswdAuthenticator(realm: "r", path: path) }
    }
}
