import Foundation
import Testing
@testable import RegistryClient

/// Docker's config.json: reading, writing, keeping unknown keys, helpers.
@Suite struct DockerConfigTests {
    func temporaryConfig(_ json: String?) throws -> DockerConfig {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("berth-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("config.json").path
        if let json { try Data(json.utf8).write(to: URL(fileURLWithPath: path)) }
        return DockerConfig(path: path)
    }

    @Test func readsBase64Auth() throws {
        let config = try temporaryConfig(#"{"auths":{"localhost:5000":{"auth":"YWxpY2U6czNjcmV0"}}}"#)
        let creds = try #require(try config.credentials(for: "localhost:5000"))
        #expect(creds.username == "alice")
        #expect(creds.password == "s3cret")
        #expect(try config.credentials(for: "other:5000") == nil)
    }

    @Test func matchesURLKeysAndDockerHub() throws {
        let config = try temporaryConfig(#"""
        {"auths":{"https://index.docker.io/v1/":{"auth":"aHViOnB3"},"https://reg.example.com/":{"auth":"cjpw"}}}
        """#)
        #expect(try config.credentials(for: "docker.io")?.username == "hub")
        #expect(try config.credentials(for: "reg.example.com")?.username == "r")
    }

    @Test func identityTokenWins() throws {
        let config = try temporaryConfig(#"{"auths":{"r.io":{"auth":"dTo=","identitytoken":"refresh-1"}}}"#)
        let creds = try #require(try config.credentials(for: "r.io"))
        #expect(creds.identityToken == "refresh-1")
        #expect(creds.password == nil)
    }

    @Test func storeKeepsOtherKeysAndEraseRemoves() throws {
        let config = try temporaryConfig(#"{"psFormat":"table","auths":{"keep.io":{"auth":"azpw"}}}"#)
        try config.store(Credentials(username: "bob", password: "pw"), for: "localhost:5000")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config.path))) as? [String: Any])
        #expect(object["psFormat"] as? String == "table")
        #expect(try config.credentials(for: "keep.io")?.username == "k")
        #expect(try config.credentials(for: "localhost:5000")?.password == "pw")
        var st = stat()
        #expect(stat(config.path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(try config.erase(host: "localhost:5000"))
        #expect(try config.credentials(for: "localhost:5000") == nil)
        #expect(try !config.erase(host: "localhost:5000"))
    }

    @Test func missingFileIsEmpty() throws {
        let config = try temporaryConfig(nil)
        #expect(try config.credentials(for: "x.io") == nil)
        #expect(try config.helper(for: "x.io") == nil)
    }

    @Test func helperSelection() throws {
        let config = try temporaryConfig(#"{"credsStore":"desktop","credHelpers":{"gcr.io":"gcloud"}}"#)
        #expect(try config.helper(for: "gcr.io") == "gcloud")
        #expect(try config.helper(for: "other.io") == "desktop")
    }

    @Test func malformedFileIsAnError() throws {
        let config = try temporaryConfig("[1,2]")
        #expect(throws: (any Error).self) { try config.credentials(for: "x.io") }
    }

    @Test(arguments: [("localhost:5000", true), ("127.0.0.1:5000", true), ("127.1.2.3", true), ("[::1]:5000", true),
                      ("localhost.example.com", false), ("registry.io", false), ("10.0.0.1:5000", false)])
    func loopbackUsesPlainHTTP(_ host: String, _ loopback: Bool) {
        #expect(TransportSecurity.isLoopback(host) == loopback)
        #expect(TransportSecurity().scheme(for: host) == (loopback ? "http" : "https"))
        #expect(TransportSecurity(insecure: true).scheme(for: host) == "http")
    }
}
