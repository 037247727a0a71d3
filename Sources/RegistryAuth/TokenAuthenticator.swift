import Crypto
import Foundation
import JWTKit

/// `auth.token`: bearer tokens from a token service, verified as Distribution verifies them.
///
/// Spec: distribution docs/spec/auth/token.md and jwt.md. A token is accepted when
/// - its `alg` is an asymmetric algorithm (never `none`, never HMAC: no key confusion),
/// - its signature verifies: through its `x5c` chain to a certificate of `rootcertbundle`, or
///   with the key its `kid` names (a JWKS entry, or the RFC 7638 thumbprint of a bundle key),
/// - `iss` is the configured issuer, `aud` contains the service, `exp`/`nbf` hold with 60 s leeway,
/// and it grants only what its `access` claim lists. Verified tokens are cached (by SHA-256) until
/// they expire, so verification is paid once per token, not per request.
///
/// `@unchecked Sendable`: `cache` is only touched under `lock`; the rest is immutable.
public final class TokenAuthenticator: RequestAuthenticator, @unchecked Sendable {
    public static let leeway: Double = 60
    static let allowedAlgorithms: Set<String> = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512",
                                                  "PS256", "PS384", "PS512", "EdDSA"]
    private static let maximumCached = 10_000

    private let realm: String
    private let service: String
    private let issuer: String
    private let keys: VerificationKeys
    private let x5cVerifier: X5CVerifier?
    private let lock = NSLock()
    private var cache: [SHA256Digest: (expiry: Double, subject: String?, grants: [AccessScope])] = [:]

    /// Loads the trusted keys; throws when neither source yields one.
    public init(realm: String, service: String, issuer: String, rootCertBundlePath: String?, jwksPath: String?) async throws {
        self.realm = realm
        self.service = service
        self.issuer = issuer
        keys = try await VerificationKeys.load(rootCertBundlePath: rootCertBundlePath, jwksPath: jwksPath)
        x5cVerifier = keys.rootCertificates.isEmpty ? nil : try X5CVerifier(rootCertificates: keys.rootCertificates)
    }

    public func authorize(authorization: String?, clientAddress: String?, required: [AccessScope]) async -> AuthorizationDecision {
        guard let authorization, let token = Self.bearerToken(authorization) else {
            return .challenge(challenge(for: required, error: nil))
        }
        guard let verified = await verifiedGrants(token) else {
            return .challenge(challenge(for: required, error: "invalid_token"))
        }
        guard required.allSatisfy({ $0.isCovered(by: verified.grants) }) else {
            return .challenge(challenge(for: required, error: "insufficient_scope"))
        }
        return .allowed(subject: verified.subject)
    }

    /// The token of a `Bearer <token>` header. Byte-level on purpose: this runs on every request, and
    /// Foundation's trimming walks a kilobyte-long token as UTF-16.
    static func bearerToken(_ header: String) -> String? {
        var header = header
        return header.withUTF8 { bytes -> String? in
            guard bytes.count > 7 else { return nil }
            let scheme: [UInt8] = Array("bearer ".utf8)
            for index in 0..<7 where bytes[index] | 0x20 != scheme[index] { return nil }
            var start = 7, end = bytes.count
            while start < end && bytes[start] == 0x20 { start += 1 }
            while end > start && bytes[end - 1] == 0x20 { end -= 1 }
            guard start < end else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        }
    }

    /// The token's subject and grants when it is valid now; nil otherwise.
    func verifiedGrants(_ token: String) async -> (subject: String?, grants: [AccessScope])? {
        let key = SHA256.hash(data: Data(token.utf8))
        let now = Date().timeIntervalSince1970
        if let cached = lock.withLock({ cache[key] }), now <= cached.expiry {
            return (cached.subject, cached.grants)
        }
        guard let claims = await verify(token), let expiry = claims.exp else { return nil }
        let result = (subject: claims.sub, grants: claims.grantedScopes)
        lock.withLock {
            if cache.count >= Self.maximumCached { cache = cache.filter { $0.value.expiry >= now } }
            if cache.count < Self.maximumCached { cache[key] = (expiry + Self.leeway, result.subject, result.grants) }
        }
        return result
    }

    /// Signature, algorithm and claims; nil when anything is wrong (the reason is not revealed).
    func verify(_ token: String) async -> TokenClaims? {
        guard token.utf8.count < 64 * 1024, let header = Self.header(of: token),
              let alg = header.alg, Self.allowedAlgorithms.contains(alg) else { return nil }
        let claims: TokenClaims
        do {
            if let chain = header.x5c, !chain.isEmpty {
                guard let x5cVerifier else { return nil }
                claims = try await x5cVerifier.verifyJWS(token, as: TokenClaims.self)
            } else if let kid = header.kid, let collection = keys.keysByID[kid] {
                claims = try await collection.verify(token, as: TokenClaims.self)
            } else {
                return nil
            }
        } catch {
            return nil
        }
        let now = Date().timeIntervalSince1970
        guard claims.iss == issuer, claims.aud.contains(service),
              let exp = claims.exp, now <= exp + Self.leeway else { return nil }
        if let nbf = claims.nbf, now < nbf - Self.leeway { return nil }
        return claims
    }

    private struct Header: Decodable {
        var alg: String?
        var kid: String?
        var x5c: [String]?
    }

    private static func header(of token: String) -> Header? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = base64URLDecode(parts[0]) else { return nil }
        return try? JSONDecoder().decode(Header.self, from: data)
    }

    static func base64URLDecode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }

    /// `Bearer realm="...",service="...",scope="..."[,error="..."]` as Docker clients parse it.
    private func challenge(for required: [AccessScope], error: String?) -> AuthChallenge {
        var value = "Bearer realm=\"\(realm)\",service=\"\(service)\""
        if !required.isEmpty {
            value += ",scope=\"\(required.map(\.description).joined(separator: " "))\""
        }
        if let error { value += ",error=\"\(error)\"" }
        let message = error == "insufficient_scope" ? "insufficient scope for this request" : "authentication required"
        return AuthChallenge(code: .unauthorized, message: message, wwwAuthenticate: value)
    }
}
