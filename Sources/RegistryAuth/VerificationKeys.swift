import Foundation
import JWTKit
import X509

/// The keys a registry trusts for bearer tokens: a certificate bundle (`auth.token.rootcertbundle`)
/// and/or a JWKS file (`auth.token.jwks`), indexed by RFC 7638 thumbprint or JWKS `kid`.
struct VerificationKeys: Sendable {
    enum LoadError: Error, CustomStringConvertible {
        case unreadable(String)
        case noCertificates(String)
        case unsupportedKey(String)
        var description: String {
            switch self {
            case .unreadable(let path): "\(path): cannot read"
            case .noCertificates(let path): "\(path): no PEM certificates in the bundle"
            case .unsupportedKey(let detail): "unsupported key: \(detail)"
            }
        }
    }

    /// PEM certificates of the bundle, for `x5c` chain verification.
    let rootCertificates: [String]
    /// One single-key collection per `kid`, so a token can never fall back to another key.
    let keysByID: [String: JWTKeyCollection]

    static func load(rootCertBundlePath: String?, jwksPath: String?) async throws -> VerificationKeys {
        var roots: [String] = []
        var keys: [String: JWTKeyCollection] = [:]
        if let path = rootCertBundlePath {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw LoadError.unreadable(path) }
            roots = splitPEM(text)
            guard !roots.isEmpty else { throw LoadError.noCertificates(path) }
            for pem in roots {
                let (kid, collection) = try await keyCollection(certificatePEM: pem)
                keys[kid] = collection
            }
        }
        if let path = jwksPath {
            guard let data = FileManager.default.contents(atPath: path) else { throw LoadError.unreadable(path) }
            let jwks = try JSONDecoder().decode(JWKS.self, from: data)
            for jwk in jwks.keys {
                guard let kid = jwk.keyIdentifier else { continue }
                keys[kid.string] = try await JWTKeyCollection().add(jwk: jwk)
            }
        }
        return VerificationKeys(rootCertificates: roots, keysByID: keys)
    }

    /// The certificate's public key in a collection of its own, keyed by its thumbprint.
    static func keyCollection(certificatePEM pem: String) async throws -> (String, JWTKeyCollection) {
        let certificate = try Certificate(pemEncoded: pem)
        let publicPEM = try certificate.publicKey.serializeAsPEM().pemString
        let collection = JWTKeyCollection()
        if let key = try? ES256PublicKey(pem: publicPEM), let parameters = key.parameters {
            let kid = JWKThumbprint.of(ecdsa: parameters, curve: "P-256")
            await collection.add(ecdsa: key, kid: JWKIdentifier(string: kid))
            return (kid, collection)
        }
        if let key = try? ES384PublicKey(pem: publicPEM), let parameters = key.parameters {
            let kid = JWKThumbprint.of(ecdsa: parameters, curve: "P-384")
            await collection.add(ecdsa: key, kid: JWKIdentifier(string: kid))
            return (kid, collection)
        }
        if let key = try? Insecure.RSA.PublicKey(pem: publicPEM) {
            let (modulus, exponent) = try key.getKeyPrimitives()
            let kid = JWKThumbprint.of(rsaModulus: modulus, exponent: exponent)
            await collection.add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
            return (kid, collection)
        }
        if let key = try? EdDSA.PublicKey(pem: publicPEM) {
            let raw = Data(key.rawRepresentation)
            let kid = JWKThumbprint.of(ed25519: raw)
            await collection.add(eddsa: key, kid: JWKIdentifier(string: kid))
            return (kid, collection)
        }
        throw LoadError.unsupportedKey(String(describing: certificate.publicKey).prefix(100).description)
    }

    static func splitPEM(_ text: String) -> [String] {
        let begin = "-----BEGIN CERTIFICATE-----", end = "-----END CERTIFICATE-----"
        var result: [String] = []
        var rest = Substring(text)
        while let start = rest.range(of: begin), let stop = rest.range(of: end, range: start.upperBound..<rest.endIndex) {
            result.append(String(rest[start.lowerBound..<stop.upperBound]))
            rest = rest[stop.upperBound...]
        }
        return result
    }
}
