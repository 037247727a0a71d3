import Crypto
import Foundation
import JWTKit
@testable import RegistryAuth
import Testing

/// A token-signing key and self-signed certificate made with openssl, as certs-example does.
struct SigningMaterial {
    let directory: String
    var key: String { "\(directory)/token.key" }
    var certificate: String { "\(directory)/token.crt" }

    init() throws {
        directory = NSTemporaryDirectory() + "berth-token-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key])
        try Self.run(["openssl", "req", "-x509", "-new", "-key", key, "-sha256", "-days", "30",
                      "-subj", "/CN=test token signer", "-out", certificate])
    }

    static func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
    }

    func signer() async throws -> TokenSigner {
        try await TokenSigner(privateKeyPEM: String(contentsOfFile: key, encoding: .utf8),
                              certificateChainPEM: String(contentsOfFile: certificate, encoding: .utf8))
    }
}

@Suite struct TokenAuthenticatorTests {
    let now = Date().timeIntervalSince1970

    func claims(access: [TokenClaims.Access] = [.init(type: "repository", name: "a/app", actions: ["pull", "push"])],
                iss: String = "berth-auth", aud: String = "berth-registry",
                exp: Double? = nil, nbf: Double? = nil) -> TokenClaims {
        TokenClaims(iss: iss, sub: "alice", aud: [aud], exp: exp ?? now + 300, nbf: nbf ?? now - 1, iat: now,
                    jti: UUID().uuidString, access: access)
    }

    func authenticator(_ material: SigningMaterial, bundle: Bool = true, jwks: String? = nil) async throws -> TokenAuthenticator {
        try await TokenAuthenticator(realm: "https://auth.example/token", service: "berth-registry", issuer: "berth-auth",
                                     rootCertBundlePath: bundle ? material.certificate : nil, jwksPath: jwks)
    }

    func decide(_ auth: TokenAuthenticator, _ token: String, _ scope: AccessScope) async -> AuthorizationDecision {
        await auth.authorize(authorization: "Bearer \(token)", clientAddress: nil, required: [scope])
    }

    @Test func grantsExactlyWhatTheAccessClaimHolds() async throws {
        let material = try SigningMaterial()
        let auth = try await authenticator(material)
        let token = try await material.signer().sign(claims())
        #expect(await decide(auth, token, .repository("a/app", "pull", "push")) == .allowed(subject: "alice"))
        guard case .challenge(let insufficient) = await decide(auth, token, .repository("a/app", "delete")) else {
            Issue.record("delete was not granted"); return
        }
        #expect(insufficient.wwwAuthenticate?.contains("error=\"insufficient_scope\"") == true)
        #expect(insufficient.wwwAuthenticate?.contains("scope=\"repository:a/app:delete\"") == true)
        // A token for repository A does not open B.
        #expect(await decide(auth, token, .repository("b/app", "pull")) != .allowed(subject: "alice"))
    }

    @Test func missingTokenGetsABearerChallengeWithTheScope() async throws {
        let material = try SigningMaterial()
        let auth = try await authenticator(material)
        let decision = await auth.authorize(authorization: nil, clientAddress: nil, required: [.repository("a/app", "pull")])
        #expect(decision == .challenge(AuthChallenge(code: .unauthorized, message: "authentication required",
            wwwAuthenticate: "Bearer realm=\"https://auth.example/token\",service=\"berth-registry\",scope=\"repository:a/app:pull\"")))
    }

    @Test func kidAloneVerifiesAgainstTheBundleOrAJWKS() async throws {
        let material = try SigningMaterial()
        let signer = try await material.signer()
        let token = try await signer.sign(claims())
        let header = try JSONSerialization.jsonObject(
            with: TokenAuthenticator.base64URLDecode(token.split(separator: ".")[0]) ?? Data()) as? [String: Any] ?? [:]
        #expect(header["kid"] as? String == signer.keyID)
        #expect((header["x5c"] as? [String])?.count == 1)
        // The same key without x5c: the kid (RFC 7638 thumbprint) alone must find the key.
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PrivateKey(pem: String(contentsOfFile: material.key, encoding: .utf8)), kid: JWKIdentifier(string: signer.keyID))
        let resigned = try await keys.sign(claims(), kid: JWKIdentifier(string: signer.keyID))
        let auth = try await authenticator(material)
        #expect(await decide(auth, resigned, .repository("a/app", "pull")) == .allowed(subject: "alice"))
        let jwksPath = material.directory + "/jwks.json"
        try signer.jwksJSON.write(toFile: jwksPath, atomically: true, encoding: .utf8)
        let jwksOnly = try await authenticator(material, bundle: false, jwks: jwksPath)
        #expect(await decide(jwksOnly, resigned, .repository("a/app", "pull")) == .allowed(subject: "alice"))
    }

    @Test(arguments: ["expired", "notYetValid", "wrongIssuer", "wrongAudience"])
    func refusesBadClaims(_ kind: String) async throws {
        let material = try SigningMaterial()
        let auth = try await authenticator(material)
        let bad: TokenClaims = switch kind {
        case "expired": claims(exp: now - 120)
        case "notYetValid": claims(nbf: now + 600)
        case "wrongIssuer": claims(iss: "someone-else")
        default: claims(aud: "another-registry")
        }
        let token = try await material.signer().sign(bad)
        guard case .challenge(let challenge) = await decide(auth, token, .repository("a/app", "pull")) else {
            Issue.record("\(kind) token was accepted"); return
        }
        #expect(challenge.wwwAuthenticate?.contains("error=\"invalid_token\"") == true)
    }

    @Test func refusesForgeries() async throws {
        let material = try SigningMaterial()
        let other = try SigningMaterial()
        let auth = try await authenticator(material)
        let scope = AccessScope.repository("a/app", "pull")
        // Signed by another key (its own x5c chain does not lead to the bundle).
        #expect(await decide(auth, try await other.signer().sign(claims()), scope) != .allowed(subject: "alice"))
        // alg: none.
        let payload = JWKThumbprint.base64URL(try JSONEncoder().encode(claims()))
        let none = JWKThumbprint.base64URL(Data("{\"alg\":\"none\",\"typ\":\"JWT\"}".utf8)) + "." + payload + "."
        #expect(await decide(auth, none, scope) != .allowed(subject: "alice"))
        // HS256 keyed with the public certificate (key confusion).
        let hmac = JWTKeyCollection()
        await hmac.add(hmac: HMACKey(from: try String(contentsOfFile: material.certificate, encoding: .utf8)), digestAlgorithm: .sha256)
        #expect(await decide(auth, try await hmac.sign(claims()), scope) != .allowed(subject: "alice"))
        // A tampered access claim breaks the signature.
        let token = try await material.signer().sign(claims(access: [.init(type: "repository", name: "a/app", actions: ["pull"])]))
        let parts = token.split(separator: ".").map(String.init)
        let widened = claims(access: [.init(type: "repository", name: "a/app", actions: ["*"])])
        let tampered = parts[0] + "." + JWKThumbprint.base64URL(try JSONEncoder().encode(widened)) + "." + parts[2]
        #expect(await decide(auth, tampered, .repository("a/app", "delete")) != .allowed(subject: "alice"))
    }

    @Test(arguments: [("Bearer abc", "abc"), ("bearer   abc  ", "abc"), ("BEARER x.y.z", "x.y.z"), ("Basic abc", nil),
                      ("Bearer ", nil), ("Bearer     ", nil), ("Bear", nil), ("Bearerabc", nil)] as [(String, String?)])
    func parsesBearerHeaders(_ header: String, _ expected: String?) {
        #expect(TokenAuthenticator.bearerToken(header) == expected)
    }
}
