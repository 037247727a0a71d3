import Foundation
import JWTKit

/// Signs registry tokens with the token service's key: ES256 (P-256), RS256 or EdDSA.
///
/// Headers carry `typ: JWT`, `kid` (the RFC 7638 thumbprint of the public key) and `x5c` (the
/// configured certificate chain), so Distribution 2.8 (x5c to rootcertbundle), Distribution 3 and
/// zot (kid or x5c), and berth-registry all accept the same token.
public struct TokenSigner: Sendable {
    public enum LoadError: Error, CustomStringConvertible {
        case unsupportedKey
        case noCertificate
        public var description: String {
            switch self {
            case .unsupportedKey: "the signing key must be a PEM EC P-256, RSA or Ed25519 private key"
            case .noCertificate: "the certificate file holds no PEM certificate"
            }
        }
    }

    private let keys: JWTKeyCollection
    public let keyID: String
    public let algorithm: String
    private let chain: [String]
    /// The public key as a JWKS document (`/.well-known/jwks.json`).
    public let jwksJSON: String

    public init(privateKeyPEM: String, certificateChainPEM: String) async throws {
        // jwt-kit takes the chain as PEM and writes it as base64 DER, as RFC 7515 wants.
        chain = VerificationKeys.splitPEM(certificateChainPEM)
        guard !chain.isEmpty else { throw LoadError.noCertificate }
        keys = JWTKeyCollection()
        if let key = try? ES256PrivateKey(pem: privateKeyPEM), let parameters = key.publicKey.parameters {
            keyID = JWKThumbprint.of(ecdsa: parameters, curve: "P-256")
            algorithm = "ES256"
            jwksJSON = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\",\"use\":\"sig\",\"kid\":\"\(keyID)\",\"x\":\"\(parameters.x)\",\"y\":\"\(parameters.y)\"}]}"
            await keys.add(ecdsa: key, kid: JWKIdentifier(string: keyID))
        } else if let key = try? Insecure.RSA.PrivateKey(pem: privateKeyPEM) {
            let (modulus, exponent) = try key.publicKey.getKeyPrimitives()
            keyID = JWKThumbprint.of(rsaModulus: modulus, exponent: exponent)
            algorithm = "RS256"
            jwksJSON = "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"use\":\"sig\",\"kid\":\"\(keyID)\",\"n\":\"\(JWKThumbprint.base64URL(modulus))\",\"e\":\"\(JWKThumbprint.base64URL(exponent))\"}]}"
            await keys.add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: keyID))
        } else if let key = try? EdDSA.PrivateKey(pem: privateKeyPEM) {
            let raw = Data(key.publicKey.rawRepresentation)
            keyID = JWKThumbprint.of(ed25519: raw)
            algorithm = "EdDSA"
            jwksJSON = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"EdDSA\",\"use\":\"sig\",\"kid\":\"\(keyID)\",\"x\":\"\(JWKThumbprint.base64URL(raw))\"}]}"
            await keys.add(eddsa: key, kid: JWKIdentifier(string: keyID))
        } else {
            throw LoadError.unsupportedKey
        }
    }

    public func sign(_ claims: TokenClaims) async throws -> String {
        var header = JWTHeader()
        header.typ = "JWT"
        header.x5c = chain
        return try await keys.sign(claims, kid: JWKIdentifier(string: keyID), header: header)
    }
}
