import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import Prometheus
import RegistryAuth
import ServerConfiguration

/// Builds the berth-auth application for a configuration; `main` runs it, tests call it directly.
/// `metrics`: the Prometheus registry swift-metrics reports to, served on `/metrics`.
public func buildTokenApplication(configuration: TokenServiceConfiguration, logger: Logger,
                                  metrics: PrometheusCollectorRegistry? = nil) async throws -> some ApplicationProtocol {
    for warning in configuration.warnings { logger.warning("\(warning)") }
    let signer = try await TokenSigner(privateKeyPEM: String(contentsOfFile: configuration.keyPath, encoding: .utf8),
                                       certificateChainPEM: String(contentsOfFile: configuration.certificatePath, encoding: .utf8))
    let endpoint = TokenEndpoint(
        configuration: configuration, signer: signer,
        users: try UserStore(htpasswdPath: configuration.htpasswdPath, staticUsers: configuration.staticUsers),
        limiter: FailureLimiter(burst: configuration.burst, perMinute: configuration.perMinute),
        refreshTokens: RefreshTokenStore(), logger: logger)
    let router = Router(context: TokenRequestContext.self)
    router.middlewares.add(TokenErrorMiddleware())
    router.get("/token") { request, context in
        try await GrantMetrics.timed("token") { try await endpoint.handleGet(request, context: context) }
    }
    router.post("/token") { request, context in
        try await GrantMetrics.timed("token") { try await endpoint.handlePost(request, context: context) }
    }
    if let metrics {
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: MetricsBootstrap.exposition(metrics))))
        }
    }
    let jwks = signer.jwksJSON
    router.get("/.well-known/jwks.json") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: jwks)))
    }
    // HEAD as GET without the body, for load balancers' and health checks' probes.
    router.head("/.well-known/jwks.json") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json", .contentLength: "\(jwks.utf8.count)"])
    }
    let server: HTTPServerBuilder
    if let tls = configuration.tls {
        server = try .tls(.http1(), tlsConfiguration: tls.makeServerConfiguration())
    } else {
        server = .http1()
    }
    let scheme = configuration.tls == nil ? "http" : "https"
    return Application(router: router, server: server,
                       configuration: .init(address: .hostname(configuration.address.host, port: configuration.address.port), serverName: nil),
                       onServerRunning: { channel in
                           logger.info("listening", metadata: ["address": "\(scheme)://\(channel.localAddress?.description ?? "?")"])
                       },
                       logger: logger)
}

/// Token endpoint failures as OAuth2-style JSON (`{"error": ..., "error_description": ...}`) with
/// Distribution-style `errors` too, so both kinds of clients show a readable message.
struct TokenErrorMiddleware: RouterMiddleware {
    typealias Context = TokenRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let failure as TokenEndpoint.Failure {
            let object: [String: Any] = ["error": failure.code, "error_description": failure.message,
                                         "errors": [["code": failure.status == .tooManyRequests ? "TOOMANYREQUESTS" : "UNAUTHORIZED",
                                                     "message": failure.message]]]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            var headers = failure.headers
            headers[.contentType] = "application/json"
            return Response(status: failure.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
    }
}
