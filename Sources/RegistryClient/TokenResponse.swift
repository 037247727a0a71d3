import Foundation

/// The token service's answer to `GET /token` or `POST /token`.
///
/// See https://distribution.github.io/distribution/spec/auth/token/#token-response-fields
/// and https://distribution.github.io/distribution/spec/auth/oauth/
struct TokenResponse: Decodable {
    var token: String?
    var accessToken: String?
    var expiresIn: Int?
    var refreshToken: String?

    enum CodingKeys: String, CodingKey {
        case token
        case accessToken = "access_token"
        case expiresIn = "expires_in"
        case refreshToken = "refresh_token"
    }

    /// The bearer token, whichever field carried it.
    var bearer: String? { token ?? accessToken }

    /// Lifetime; the spec says 60 seconds when absent.
    var lifetime: TimeInterval { TimeInterval(max(expiresIn ?? 60, 1)) }
}

/// A bearer token and when to stop using it.
struct CachedToken: Sendable {
    var value: String
    var expires: Date
    var isFresh: Bool { Date().addingTimeInterval(10) < expires }
}

/// Percent-encodes a query or form value.
func formEncode(_ s: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
}
