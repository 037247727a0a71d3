import Crypto
import Foundation
import JWTKit

/// RFC 7638 JWK thumbprints: the `kid` berth-auth puts in token headers, so verifiers can pick the
/// key without an `x5c` chain.
public enum JWKThumbprint {
    /// Thumbprint of a P-256/P-384/P-521 public key.
    public static func of(ecdsa parameters: ECDSAParameters, curve: String) -> String {
        digest("{\"crv\":\"\(curve)\",\"kty\":\"EC\",\"x\":\"\(parameters.x)\",\"y\":\"\(parameters.y)\"}")
    }

    /// Thumbprint of an RSA public key (modulus and exponent as big-endian bytes).
    public static func of(rsaModulus modulus: Data, exponent: Data) -> String {
        digest("{\"e\":\"\(base64URL(exponent))\",\"kty\":\"RSA\",\"n\":\"\(base64URL(modulus))\"}")
    }

    /// Thumbprint of an Ed25519 public key.
    public static func of(ed25519 raw: Data) -> String {
        digest("{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"\(base64URL(raw))\"}")
    }

    static func digest(_ canonicalJSON: String) -> String {
        base64URL(Data(SHA256.hash(data: Data(canonicalJSON.utf8))))
    }

    public static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
