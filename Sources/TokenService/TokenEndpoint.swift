import Foundation
import Hummingbird
import Logging
import RegistryAuth

/// `GET /token` and `POST /token` of the Docker token authentication spec.
///
/// Spec: distribution docs/spec/auth/token.md (GET with Basic credentials) and oauth.md (POST with
/// `grant_type=password|refresh_token`). The grant is the intersection of the scopes asked for and
/// what the ACL allows; a partial grant is not an error. Never logs a password or a token.
struct TokenEndpoint: Sendable {
    static let maximumScopes = 100

    let configuration: TokenServiceConfiguration
    let signer: TokenSigner
    let users: UserStore
    let limiter: FailureLimiter
    let refreshTokens: RefreshTokenStore
    let logger: Logger

    struct Failure: Error {
        let status: HTTPResponse.Status
        let code: String
        let message: String
        var headers: HTTPFields = [:]
    }

    /// Parameters common to both forms of the request.
    struct TokenRequest {
        var service: String?
        var scopes: [String] = []
        var clientID: String?
        var offline = false
        var grantType: String?
        var username: String?
        var password: String?
        var refreshToken: String?
    }

    func handleGet(_ request: Request, context: TokenRequestContext) async throws -> Response {
        var parsed = TokenRequest()
        for (key, value) in Self.formPairs(request.uri.query ?? "") {
            switch key {
            case "service": parsed.service = value
            case "scope": parsed.scopes.append(value)
            case "client_id": parsed.clientID = value
            case "offline_token": parsed.offline = value == "true"
            case "account": break
            default: break
            }
            if parsed.scopes.count > Self.maximumScopes { throw Failure(status: .badRequest, code: "invalid_request", message: "too many scopes") }
        }
        if let header = request.headers[.authorization] {
            guard let (user, password) = Self.basicCredentials(header) else {
                throw Failure(status: .unauthorized, code: "invalid_client", message: "malformed Basic credentials")
            }
            parsed.username = user
            parsed.password = password
            parsed.grantType = "password"
        }
        return try await issue(parsed, request: request, context: context, oauth: false)
    }

    func handlePost(_ request: Request, context: TokenRequestContext) async throws -> Response {
        var body = try await request.body.collect(upTo: 64 * 1024)
        let text = body.readString(length: body.readableBytes) ?? ""
        var parsed = TokenRequest()
        for (key, value) in Self.formPairs(text) {
            switch key {
            case "service": parsed.service = value
            case "scope": parsed.scopes += value.split(separator: " ").map(String.init)
            case "client_id": parsed.clientID = value
            case "access_type": parsed.offline = value == "offline"
            case "grant_type": parsed.grantType = value
            case "username": parsed.username = value
            case "password": parsed.password = value
            case "refresh_token": parsed.refreshToken = value
            default: break
            }
            if parsed.scopes.count > Self.maximumScopes { throw Failure(status: .badRequest, code: "invalid_request", message: "too many scopes") }
        }
        guard parsed.grantType == "password" || parsed.grantType == "refresh_token" else {
            throw Failure(status: .badRequest, code: "unsupported_grant_type", message: "grant_type must be password or refresh_token")
        }
        guard parsed.clientID?.isEmpty == false else {
            throw Failure(status: .badRequest, code: "invalid_request", message: "client_id is required")
        }
        return try await issue(parsed, request: request, context: context, oauth: true)
    }

    private func issue(_ parsed: TokenRequest, request: Request, context: TokenRequestContext, oauth: Bool) async throws -> Response {
        guard let service = parsed.service, configuration.services.contains(service) else {
            throw Failure(status: .badRequest, code: "invalid_request", message: "unknown service")
        }
        var requested: [AccessScope] = []
        for text in parsed.scopes {
            guard let scope = AccessScope(parsing: Substring(text)) else {
                throw Failure(status: .badRequest, code: "invalid_scope", message: "malformed scope")
            }
            requested.append(scope)
        }
        let address = context.remoteAddress?.ipAddress ?? "unknown"
        var account = ""
        switch parsed.grantType {
        case "password":
            guard let user = parsed.username, let password = parsed.password else {
                throw Failure(status: .badRequest, code: "invalid_request", message: "username and password are required")
            }
            let keys = ["user:\(user)", "addr:\(address)"]
            if limiter.isLimited(keys) {
                throw Failure(status: .tooManyRequests, code: "too_many_requests", message: "too many failed attempts; try later",
                              headers: [.retryAfter: "60"])
            }
            guard await users.verify(user: user, password: password) else {
                limiter.recordFailure(keys)
                logger.notice("login failed", metadata: ["account": "\(user.prefix(100))", "address": "\(address)"])
                throw Failure(status: .unauthorized, code: "invalid_grant", message: "invalid username or password",
                              headers: [.wwwAuthenticate: "Basic realm=\"berth-auth\""])
            }
            account = user
        case "refresh_token":
            guard let token = parsed.refreshToken, let grant = refreshTokens.redeem(token, clientID: parsed.clientID ?? "") else {
                throw Failure(status: .unauthorized, code: "invalid_grant", message: "invalid refresh token")
            }
            account = grant.account
        default:
            account = ""  // anonymous
        }
        let grants = requested.map { configuration.acl.grant($0, to: account) }
        let granted = grants.filter { !$0.actions.isEmpty }
        // "denied": a token is still issued (as the token spec has it) but not for all that was asked.
        let deniedSome = zip(requested, grants).contains { asked, given in !Set(asked.actions).isSubset(of: Set(given.actions)) }
        GrantMetrics.record(deniedSome ? .denied : .issued)
        let now = Date().timeIntervalSince1970
        let claims = TokenClaims(iss: configuration.issuer, sub: account, aud: [service], exp: now + configuration.expiration,
                                 nbf: now - 1, iat: now, jti: UUID().uuidString,
                                 access: granted.map { .init(type: $0.type, name: $0.name, actions: $0.actions.sorted()) })
        let token = try await signer.sign(claims)
        var response: [String: Any] = [
            "token": token, "access_token": token, "expires_in": Int(configuration.expiration),
            "issued_at": ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: now)),
        ]
        let wantsRefresh = oauth ? parsed.offline || parsed.grantType == "refresh_token" : parsed.offline
        if wantsRefresh, !account.isEmpty, let clientID = parsed.clientID, !clientID.isEmpty {
            response["refresh_token"] = refreshTokens.issue(account: account, clientID: clientID)
        }
        if oauth { response["scope"] = granted.map(\.description).joined(separator: " ") }
        logger.info("token issued", metadata: ["account": "\(account.isEmpty ? "<anonymous>" : account)",
                                               "granted": "\(granted.map(\.description).joined(separator: " "))"])
        let data = try JSONSerialization.data(withJSONObject: response, options: [.sortedKeys])
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `application/x-www-form-urlencoded` pairs, `+` as space, percent-decoded.
    static func formPairs(_ text: String) -> [(String, String)] {
        text.split(separator: "&").prefix(10_000).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    static func basicCredentials(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}
