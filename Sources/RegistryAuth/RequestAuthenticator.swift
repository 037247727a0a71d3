/// What an authenticator decided about one request.
public enum AuthorizationDecision: Sendable, Equatable {
    /// Let the request through; `subject` is the authenticated account, nil for anonymous access.
    case allowed(subject: String?)
    /// Refuse it with `401` (or `403` for `.denied`) and this `WWW-Authenticate` challenge.
    case challenge(AuthChallenge)
    /// Too many failed attempts from this client: `429 TOOMANYREQUESTS`.
    case tooManyRequests
}

/// A refusal: the challenge header a client needs to authenticate, and the OCI error code.
public struct AuthChallenge: Sendable, Equatable {
    /// `UNAUTHORIZED` (401) or `DENIED` (403).
    public enum Code: String, Sendable { case unauthorized = "UNAUTHORIZED", denied = "DENIED" }
    public var code: Code
    public var message: String
    /// The full `WWW-Authenticate` value, e.g. `Bearer realm="...",service="...",scope="..."`.
    public var wwwAuthenticate: String?

    public init(code: Code, message: String, wwwAuthenticate: String?) {
        self.code = code
        self.message = message
        self.wwwAuthenticate = wwwAuthenticate
    }
}

/// Checks a request's `Authorization` header against the scopes the request needs.
///
/// The registry computes `required` from the route (e.g. `repository:a/b:pull,push` for a blob upload,
/// plus `repository:src:pull` for a cross-repository mount; empty for `GET /v2/`). Implementations:
/// `HtpasswdAuthenticator` (Basic, bcrypt) and the bearer-token verifier. Never log the header.
public protocol RequestAuthenticator: Sendable {
    func authorize(authorization: String?, clientAddress: String?, required: [AccessScope]) async -> AuthorizationDecision
}
