import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import OCI
import RegistryAuth
import RegistryCore

/// The one HTTP entry point: parses the route, authorizes it, dispatches to a handler and maps
/// every error to the spec's JSON.
///
/// A hand-written dispatcher rather than a router: repository names contain slashes, so routes are
/// recognised from the end of the path (as Distribution does), and the hot path stays short.
struct RegistryResponder: HTTPResponder {
    typealias Context = RegistryRequestContext
    let endpoints: Endpoints
    private let fixedHeaders: HTTPFields
    /// Nil: no health checks configured, nothing to gate on.
    let health: HealthMonitor?
    /// Nil: neither metrics nor an access log are kept.
    let recorder: RequestRecorder?

    /// What the request turned out to be, filled in while it is handled, for metrics and the access log.
    private struct Observation {
        var handler = HTTPMetrics.Handler.unknown
        var user: String?
        /// Counted in `registry_http_in_flight_requests` (from the moment the route was known).
        var inFlight = false
        /// A blob GET: its body streams from storage after the handler returned.
        var streamsBody = false
    }

    init(endpoints: Endpoints, health: HealthMonitor? = nil, recorder: RequestRecorder? = nil) {
        self.endpoints = endpoints
        self.health = health
        self.recorder = recorder
        var headers = HTTPFields()
        headers[.dockerDistributionAPIVersion] = "registry/2.0"
        for (name, values) in endpoints.configuration.http.headers {
            guard let field = HTTPField.Name(name) else { continue }
            for value in values { headers.append(HTTPField(name: field, value: value)) }
        }
        fixedHeaders = headers
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        guard let recorder else {
            var observation = Observation()
            return await respond(to: request, context: context, observation: &observation)
        }
        let start = ContinuousClock.now
        var observation = Observation()
        var response = await respond(to: request, context: context, observation: &observation)
        let metrics = observation.inFlight ? recorder.metrics : nil
        // A streamed blob is recorded once its body is written, so it counts the whole transfer.
        // Every other response is a buffer already: recorded now, and left as a buffer, which
        // the server writes with its head in one go (a wrapped body would cost a write more).
        guard observation.streamsBody else {
            metrics?.ended(observation.handler)
            recorder.add(RequestRecord(handler: observation.handler, head: request.head, status: response.status.code,
                                       responseSize: Self.contentLength(response), nanoseconds: Self.nanoseconds(since: start),
                                       remoteAddress: context.remoteAddress, user: observation.user, number: context.number))
            return response
        }
        let body = response.body
        let (handler, head, status, size) = (observation.handler, request.head, response.status.code, Self.contentLength(response))
        let (remoteAddress, user, number) = (context.remoteAddress, observation.user, context.number)
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            defer {
                metrics?.ended(handler)
                recorder.add(RequestRecord(handler: handler, head: head, status: status, responseSize: size,
                                           nanoseconds: Self.nanoseconds(since: start), remoteAddress: remoteAddress,
                                           user: user, number: number))
            }
            try await body.write(writer)
        }
        return response
    }

    private static func contentLength(_ response: Response) -> Int? {
        response.headers[.contentLength].flatMap { Int($0) }
    }

    private static func nanoseconds(since start: ContinuousClock.Instant) -> Int64 {
        let elapsed = (ContinuousClock.now - start).components
        return elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000
    }

    private func respond(to request: Request, context: Context, observation: inout Observation) async -> Response {
        var response: Response
        do {
            response = try await handle(request, context: context, observation: &observation)
        } catch let range as RangeNotSatisfiable {
            let error = DistributionError(.rangeInvalid, "requested range is outside the blob", status: 416)
            response = ErrorResponse.response(error, headers: [.contentRange: "bytes */\(range.size)"], includeBody: request.method != .head)
        } catch let challenge as ChallengeError {
            response = ErrorResponse.response(challenge.error, headers: challenge.headers, includeBody: request.method != .head)
        } catch {
            let mapped = ErrorResponse.distributionError(for: error)
            if mapped.status >= 500 && mapped.code != .unavailable {
                endpoints.logger.error("request failed", metadata: [
                    "method": "\(request.method)", "path": "\(request.uri.path.prefix(300))", "error": "\(error)"])
            }
            response = ErrorResponse.response(mapped, includeBody: request.method != .head)
        }
        for field in fixedHeaders { response.headers.append(field) }
        return response
    }

    private func handle(_ request: Request, context: Context, observation: inout Observation) async throws -> Response {
        var path = Substring(request.uri.path)
        let prefix = endpoints.configuration.http.prefix
        if prefix != "/" {
            guard path.hasPrefix(prefix.dropLast()) else { throw DistributionError(.nameUnknown, "not found", status: 404) }
            path = path.dropFirst(prefix.count - 1)
        }
        guard let route = try RegistryRoute.parse(path) else {
            throw DistributionError(.unsupported, "no such endpoint", status: 404)
        }
        observation.handler = HTTPMetrics.Handler(route)
        if case .blob = route, request.method == .get { observation.streamsBody = true }
        if let health, !health.isHealthy {
            throw DistributionError(.unavailable, "service unavailable: a health check is failing", status: 503)
        }
        if let metrics = recorder?.metrics {
            metrics.started(observation.handler)
            observation.inFlight = true
        }
        let query = request.uri.queryParameters
        let mountSource = route.isUploadStart ? query["from"].flatMap { try? RepositoryName($0) } : nil
        observation.user = try await authorize(request, route: route, mountSource: mountSource)
        guard endpoints.core.outbox != nil else {
            return try await dispatch(route, request: request, query: query, mountSource: mountSource, channel: context.channel)
        }
        // Notifications report who asked: bound for the core's events of this request.
        let origin = EventRequest(id: context.requestID, addr: context.clientAddress, host: request.head.authority ?? "",
                                  method: request.method.rawValue, userAgent: request.headers[.userAgent] ?? "",
                                  actor: observation.user)
        return try await EventRequest.$current.withValue(origin) {
            try await dispatch(route, request: request, query: query, mountSource: mountSource, channel: context.channel)
        }
    }

    private func dispatch(_ route: RegistryRoute, request: Request, query: FlatDictionary<Substring, Substring>,
                          mountSource: RepositoryName?, channel: any Channel) async throws -> Response {
        switch (route, request.method) {
        case (.base, .get), (.base, .head):
            return Response(status: .ok, headers: [.contentType: "application/json", .contentLength: "2"],
                            body: request.method == .head ? ResponseBody() : ResponseBody(byteBuffer: ByteBuffer(string: "{}")))
        case (.catalog, .get):
            return try await endpoints.catalog(query: query)
        case (.tags(let name), .get):
            return try await endpoints.tags(of: name, query: query)
        case (.referrers(let name, let subject), .get):
            return try await endpoints.referrers(of: subject, in: name, query: query)
        case (.manifest(let name, let reference), .get), (.manifest(let name, let reference), .head):
            return try await endpoints.getManifest(reference, in: name, request: request)
        case (.manifest(let name, let reference), .put):
            return try await endpoints.putManifest(reference, in: name, request: request)
        case (.manifest(let name, let reference), .delete):
            return try await endpoints.deleteManifest(reference, in: name)
        case (.blob(let name, let digest), .get):
            return try await endpoints.getBlob(digest, in: name, request: request, channel: channel)
        case (.blob(let name, let digest), .head):
            return try await endpoints.headBlob(digest, in: name, request: request)
        case (.blob(let name, let digest), .delete):
            return try await endpoints.deleteBlob(digest, in: name)
        case (.uploads(let name), .post):
            return try await endpoints.startUpload(in: name, request: request, mountSource: mountSource)
        case (.upload(let name, let id), .patch):
            return try await endpoints.appendUpload(id, in: name, request: request)
        case (.upload(let name, let id), .put):
            return try await endpoints.finishUpload(id, in: name, request: request)
        case (.upload(let name, let id), .get):
            return try await endpoints.uploadStatus(id, in: name)
        case (.upload(let name, let id), .delete):
            return try await endpoints.cancelUpload(id, in: name)
        default:
            throw DistributionError(.unsupported, "method \(request.method) is not allowed here", status: 405)
        }
    }

    /// Asks the configured authenticator whether the request may proceed with the scopes its
    /// route needs; returns the account (nil: anonymous), throws the challenge otherwise. The
    /// header itself is never logged.
    private func authorize(_ request: Request, route: RegistryRoute, mountSource: RepositoryName?) async throws -> String? {
        guard let authenticator = endpoints.authenticator else { return nil }
        let required = Self.requiredScopes(route: route, method: request.method, mountSource: mountSource)
        let decision = await authenticator.authorize(
            authorization: request.headers[.authorization], clientAddress: nil, required: required)
        switch decision {
        case .allowed(let subject):
            return subject
        case .tooManyRequests:
            throw DistributionError(.tooManyRequests, "too many failed authentication attempts")
        case .challenge(let challenge):
            var headers = HTTPFields()
            if let value = challenge.wwwAuthenticate { headers[.wwwAuthenticate] = value }
            let error = DistributionError(challenge.code == .denied ? .denied : .unauthorized, challenge.message)
            throw ChallengeError(error: error, headers: headers)
        }
    }

    /// The scopes a request needs, as Distribution's access records: pull to read, pull+push to
    /// write, delete to delete; a cross-repository mount also needs pull on the source.
    static func requiredScopes(route: RegistryRoute, method: HTTPRequest.Method, mountSource: RepositoryName?) -> [AccessScope] {
        switch route {
        case .base: return []
        case .catalog: return [.catalog]
        default: break
        }
        guard let name = route.repository?.value else { return [] }
        var scopes: [AccessScope]
        switch (route, method) {
        case (.manifest, .delete), (.blob, .delete):
            scopes = [.repository(name, "delete")]
        case (_, .get), (_, .head):
            if case .upload = route { scopes = [.repository(name, "pull", "push")] } else { scopes = [.repository(name, "pull")] }
        default:
            scopes = [.repository(name, "pull", "push")]
        }
        if let mountSource, mountSource.value != name { scopes.append(.repository(mountSource.value, "pull")) }
        return scopes
    }
}

/// An authentication refusal carrying its `WWW-Authenticate` header.
struct ChallengeError: Error {
    let error: DistributionError
    let headers: HTTPFields
}

extension RegistryRoute {
    var isUploadStart: Bool {
        if case .uploads = self { return true }
        return false
    }
}
