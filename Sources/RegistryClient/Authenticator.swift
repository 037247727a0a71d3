import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// Answers one registry's authentication challenges and caches what it learns.
///
/// The first request pings `GET /v2/` to learn the challenge. Basic challenges are answered with
/// the stored user and password. Bearer challenges are answered by the token service named in
/// `realm`: `GET` with Basic credentials (or anonymously), or `POST` with `grant_type=refresh_token`
/// when an identity token is stored. Tokens are cached per scope set until they expire.
/// Secrets never leave this actor except inside an `Authorization` header value.
/// See https://distribution.github.io/distribution/spec/auth/token/
actor Authenticator {
    private let http: HTTPClient
    private let host: String
    private let baseURL: String
    private let tls: TLSConfiguration?
    private let security: TransportSecurity
    private let credentials: Credentials?

    /// nil until pinged; `.none` when the registry asks for no authentication.
    private var challenge: AuthChallenge??
    private var tokens: [String: CachedToken] = [:]
    /// A refresh token the service handed out (kept for `login`).
    private(set) var refreshToken: String?

    init(http: HTTPClient, host: String, baseURL: String, tls: TLSConfiguration?, security: TransportSecurity,
         credentials: Credentials?) {
        self.security = security
        self.http = http
        self.host = host
        self.baseURL = baseURL
        self.tls = tls
        self.credentials = credentials
    }

    var hasCredentials: Bool { credentials != nil }

    /// Pings `/v2/` once to learn which challenge the registry uses.
    func ping() async throws -> AuthChallenge? {
        if let known = challenge { return known }
        var request = HTTPClientRequest(url: baseURL + "/v2/")
        request.tlsConfiguration = tls
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(30))
        } catch {
            throw security.describe(error, host: host)
        }
        _ = try? await response.body.collect(upTo: 1 << 20)
        var found: AuthChallenge?
        if response.status == .unauthorized {
            let all = response.headers["WWW-Authenticate"].flatMap(AuthChallenge.parse)
            found = all.first { $0.scheme == "bearer" } ?? all.first { $0.scheme == "basic" }
        } else if response.status.code >= 500 || response.status == .notFound {
            throw ClientError.protocolViolation("\(baseURL)/v2/ answered HTTP \(response.status.code): is this a registry?")
        }
        challenge = .some(found)
        return found
    }

    /// The `Authorization` header value for requests needing `scopes`, or nil for none.
    func authorization(for scopes: [String]) async throws -> String? {
        guard let challenge = try await ping() else { return nil }
        switch challenge.scheme {
        case "basic":
            return credentials?.basicAuthorization
        case "bearer":
            let key = scopes.sorted().joined(separator: " ")
            if let cached = tokens[key], cached.isFresh { return "Bearer " + cached.value }
            let token = try await fetchToken(challenge: challenge, scopes: scopes)
            tokens[key] = token
            return "Bearer " + token.value
        default:
            return nil
        }
    }

    /// Forgets what a 401 proved stale, learning the new challenge if one came with it.
    func invalidate(scopes: [String], newChallenge: AuthChallenge?) {
        tokens[scopes.sorted().joined(separator: " ")] = nil
        if let newChallenge, newChallenge.scheme == "bearer" || newChallenge.scheme == "basic" {
            var c = newChallenge
            c.parameters["scope"] = nil
            c.parameters["error"] = nil
            challenge = .some(c)
        }
    }

    /// Asks the token service for a token covering `scopes`.
    private func fetchToken(challenge: AuthChallenge, scopes: [String]) async throws -> CachedToken {
        guard let realm = challenge.realm, !realm.isEmpty else {
            throw ClientError.protocolViolation("bearer challenge without a realm")
        }
        var request: HTTPClientRequest
        if let refresh = credentials?.identityToken {
            request = HTTPClientRequest(url: realm)
            request.method = .POST
            var form = ["grant_type=refresh_token", "refresh_token=" + formEncode(refresh), "client_id=berth"]
            if let service = challenge.service { form.append("service=" + formEncode(service)) }
            if !scopes.isEmpty { form.append("scope=" + formEncode(scopes.joined(separator: " "))) }
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form.joined(separator: "&")))
        } else {
            var query: [String] = []
            if let service = challenge.service { query.append("service=" + formEncode(service)) }
            query += scopes.map { "scope=" + formEncode($0) }
            if credentials?.basicAuthorization != nil { query.append("account=" + formEncode(credentials?.username ?? "")) }
            let separator = realm.contains("?") ? "&" : "?"
            request = HTTPClientRequest(url: query.isEmpty ? realm : realm + separator + query.joined(separator: "&"))
            if let basic = credentials?.basicAuthorization { request.headers.add(name: "Authorization", value: basic) }
        }
        request.tlsConfiguration = realmTLS(realm)
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .seconds(30))
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw security.describe(error, host: URL(string: realm)?.host ?? realm)
        }
        switch response.status.code {
        case 200..<300: break
        case 401: throw ClientError.unauthorized(host: host, hadCredentials: credentials != nil)
        case 403: throw ClientError.denied(host: host, scope: scopes.joined(separator: " "), detail: "token service refused")
        default:
            throw ClientError.tokenService(realm: realm, reason: "HTTP \(response.status.code)")
        }
        let decoded: TokenResponse
        do {
            decoded = try JSONDecoder().decode(TokenResponse.self, from: Data(buffer: body))
        } catch {
            throw ClientError.tokenService(realm: realm, reason: "response is not a token JSON object")
        }
        guard let value = decoded.bearer, !value.isEmpty else {
            throw ClientError.tokenService(realm: realm, reason: "response carries no token")
        }
        if let r = decoded.refreshToken, !r.isEmpty { refreshToken = r }
        return CachedToken(value: value, expires: Date().addingTimeInterval(decoded.lifetime))
    }

    /// TLS for the token service: the registry's settings when it lives on the same host.
    private func realmTLS(_ realm: String) -> TLSConfiguration? {
        guard realm.hasPrefix("https://") else { return nil }
        return tls ?? TLSConfiguration.makeClientConfiguration()
    }

    /// Fetches a refresh token at login: `POST` with `grant_type=password`, `access_type=offline`.
    /// Returns nil when the service does not support it (Distribution's own answer is 404/405).
    func fetchRefreshTokenWithPassword() async throws -> String? {
        guard let challenge = try await ping(), challenge.scheme == "bearer",
              let realm = challenge.realm, let password = credentials?.password else { return nil }
        var request = HTTPClientRequest(url: realm)
        request.method = .POST
        var form = ["grant_type=password", "access_type=offline", "client_id=berth",
                    "username=" + formEncode(credentials?.username ?? ""), "password=" + formEncode(password)]
        if let service = challenge.service { form.append("service=" + formEncode(service)) }
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: form.joined(separator: "&")))
        request.tlsConfiguration = realmTLS(realm)
        guard let response = try? await http.execute(request, timeout: .seconds(30)),
              let body = try? await response.body.collect(upTo: 1 << 20),
              response.status == .ok,
              let decoded = try? JSONDecoder().decode(TokenResponse.self, from: Data(buffer: body))
        else { return nil }
        return decoded.refreshToken
    }
}
