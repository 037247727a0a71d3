import Foundation
import JWTKit

/// The claims of a registry bearer token (Docker token spec, docs/spec/auth/jwt.md).
///
/// `iss sub aud exp nbf iat jti access[{type, name, actions}]`. Time claims are checked by
/// `TokenAuthenticator` (with leeway), not by `verify(using:)`, which only confirms the signature.
public struct TokenClaims: JWTPayload, Equatable {
    public struct Access: Codable, Sendable, Equatable {
        public var type: String
        public var name: String
        public var actions: [String]

        public init(type: String, name: String, actions: [String]) {
            self.type = type
            self.name = name
            self.actions = actions
        }
    }

    public var iss: String?
    public var sub: String?
    /// A single audience or a list (both spellings appear in the wild).
    public var aud: [String]
    public var exp: Double?
    public var nbf: Double?
    public var iat: Double?
    public var jti: String?
    public var access: [Access]

    public init(iss: String, sub: String, aud: [String], exp: Double, nbf: Double, iat: Double, jti: String, access: [Access]) {
        self.iss = iss
        self.sub = sub
        self.aud = aud
        self.exp = exp
        self.nbf = nbf
        self.iat = iat
        self.jti = jti
        self.access = access
    }

    enum CodingKeys: String, CodingKey { case iss, sub, aud, exp, nbf, iat, jti, access }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        iss = try container.decodeIfPresent(String.self, forKey: .iss)
        sub = try container.decodeIfPresent(String.self, forKey: .sub)
        if let single = try? container.decodeIfPresent(String.self, forKey: .aud) {
            aud = [single]
        } else {
            aud = try container.decodeIfPresent([String].self, forKey: .aud) ?? []
        }
        exp = try container.decodeIfPresent(Double.self, forKey: .exp)
        nbf = try container.decodeIfPresent(Double.self, forKey: .nbf)
        iat = try container.decodeIfPresent(Double.self, forKey: .iat)
        jti = try container.decodeIfPresent(String.self, forKey: .jti)
        access = try container.decodeIfPresent([Access].self, forKey: .access) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(iss, forKey: .iss)
        try container.encodeIfPresent(sub, forKey: .sub)
        // One audience is written as a string: Distribution 2.8 and zot expect that form.
        if aud.count == 1 { try container.encode(aud[0], forKey: .aud) } else { try container.encode(aud, forKey: .aud) }
        try container.encodeIfPresent(exp.map { Int64($0) }, forKey: .exp)
        try container.encodeIfPresent(nbf.map { Int64($0) }, forKey: .nbf)
        try container.encodeIfPresent(iat.map { Int64($0) }, forKey: .iat)
        try container.encodeIfPresent(jti, forKey: .jti)
        try container.encode(access, forKey: .access)
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// The grants as scopes.
    public var grantedScopes: [AccessScope] {
        access.map { AccessScope(type: $0.type, name: $0.name, actions: Set($0.actions)) }
    }
}
