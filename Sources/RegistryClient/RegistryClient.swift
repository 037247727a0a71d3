import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import OCI

/// A client for one registry host speaking the OCI Distribution API.
///
/// Requests authenticate through an `Authenticator`; a 401 on a request whose body can be sent
/// again is retried once with fresh credentials. Blob transfers stream: bodies are async
/// sequences of buffers, never whole blobs in memory.
/// Split by role: `+Blobs` (HEAD/GET/upload/mount), `+Manifests` (manifests, tags, catalog).
/// See https://github.com/opencontainers/distribution-spec/blob/main/spec.md
public final class RegistryClient: Sendable {
    /// The host as written in references (`docker.io`, `localhost:5000`).
    public let host: String
    /// `scheme://api-host`, without a trailing slash.
    public let baseURL: String
    let http: HTTPClient
    let tls: TLSConfiguration?
    let security: TransportSecurity
    let authenticator: Authenticator

    /// Creates a client for `host`, using `http` for transport (the caller owns its lifetime).
    public init(host: String, http: HTTPClient, security: TransportSecurity, credentials: Credentials?) throws {
        self.host = host
        let apiHost = ImageReference.apiHost(for: host)
        let scheme = security.scheme(for: host)
        self.baseURL = "\(scheme)://\(apiHost)"
        self.http = http
        self.security = security
        self.tls = scheme == "https" ? try security.tlsConfiguration(for: host) : nil
        self.authenticator = Authenticator(http: http, host: host, baseURL: baseURL, tls: tls, security: security,
                                           credentials: credentials)
    }

    /// Makes the HTTP client the CLI shares between registries: no automatic decompression,
    /// redirects followed (Authorization dropped across origins by AsyncHTTPClient), generous
    /// read timeouts for large blobs.
    public static func makeHTTPClient() -> HTTPClient {
        var config = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 5, allowCycles: false),
            timeout: .init(connect: .seconds(15), read: .seconds(300)))
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        // A refused connection is an answer for a CLI: report it now rather than retry for 15 s.
        config.connectionPool.retryConnectionEstablishment = false
        config.httpVersion = .http1Only
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
    }

    /// Checks that the registry answers and that our credentials (if any) are accepted.
    /// Returns a refresh token when the token service issues one for offline use.
    public func login() async throws -> String? {
        let challenge = try await authenticator.ping()
        guard challenge != nil else { return nil }
        let refresh = try await authenticator.fetchRefreshTokenWithPassword()
        // An empty scope proves the credentials with the token service (as `docker login` does).
        let response = try await send(.GET, "/v2/", scopes: [])
        _ = try await response.body.collect(upTo: 1 << 20)
        return refresh
    }

    /// Resolves a path or absolute URL (e.g. an upload `Location`) against the base URL.
    func url(_ pathOrURL: String) -> String {
        if pathOrURL.hasPrefix("http://") || pathOrURL.hasPrefix("https://") { return pathOrURL }
        return baseURL + (pathOrURL.hasPrefix("/") ? pathOrURL : "/" + pathOrURL)
    }

    /// Sends one request with authentication; throws `ClientError` for 401/403 and for any
    /// status not in `accept`. Other statuses' bodies are read (small) for their error codes.
    ///
    /// - Parameter body: a factory, so the body can be rebuilt for the one retry after a 401;
    ///   pass `replayable: false` for streamed bodies that cannot be sent twice.
    func send(
        _ method: HTTPMethod, _ path: String, headers: HTTPHeaders = [:],
        body: (@Sendable () -> HTTPClientRequest.Body)? = nil, replayable: Bool = true,
        scopes: [String], accept: Set<Int> = [200], timeout: TimeAmount = .hours(24)
    ) async throws -> HTTPClientResponse {
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: url(path))
            request.method = method
            request.headers = headers
            request.headers.replaceOrAdd(name: "User-Agent", value: "berth/0.1")
            request.tlsConfiguration = tls
            if let body { request.body = body() }
            if let auth = try await authenticator.authorization(for: scopes) {
                request.headers.replaceOrAdd(name: "Authorization", value: auth)
            }
            let response: HTTPClientResponse
            do {
                response = try await http.execute(request, timeout: timeout)
            } catch {
                throw security.describe(error, host: host)
            }
            let status = Int(response.status.code)
            if accept.contains(status) { return response }
            let errorBody = Array(buffer: (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer())
            let challenge = response.headers["WWW-Authenticate"].flatMap(AuthChallenge.parse).first
            if status == 401 {
                await authenticator.invalidate(scopes: scopes, newChallenge: challenge)
                if attempt == 1 && (replayable || body == nil) { continue }
                // Anonymous and refused: logging in is the way on, not a scope problem.
                if challenge?.error == "insufficient_scope", await authenticator.hasCredentials {
                    throw ClientError.denied(host: host, scope: challenge?.scope ?? scopes.joined(separator: " "), detail: nil)
                }
                throw ClientError.unauthorized(host: host, hadCredentials: await authenticator.hasCredentials)
            }
            if status == 403 {
                let detail = ClientError.fromResponse(status: status, url: path, body: errorBody)
                throw ClientError.denied(host: host, scope: scopes.joined(separator: " "),
                                         detail: detail.has(.denied) ? nil : detail.description)
            }
            throw ClientError.fromResponse(status: status, url: "\(method) \(path)", body: errorBody)
        }
    }

    /// The scope string for a repository and actions.
    /// See https://distribution.github.io/distribution/spec/auth/scope/
    public static func scope(_ repository: RepositoryName, _ actions: String) -> String {
        "repository:\(repository):\(actions)"
    }
}
