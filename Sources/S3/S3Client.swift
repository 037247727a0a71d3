import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The S3 calls a registry's storage needs, signed with AWS Signature Version 4, over
/// AsyncHTTPClient: objects (`+Objects`) and multipart uploads (`+Multipart`).
///
/// Every call is retried with a doubling back-off while the store answers 500 or 503
/// (`SlowDown`) or the connection fails; other refusals throw an `S3Error` naming the bucket, the
/// key and S3's error code. Payloads are sent as `UNSIGNED-PAYLOAD`: what the registry stores is
/// checked against its digest on the way in, so hashing every byte a second time for the
/// signature would only cost CPU.
public struct S3Client: Sendable {
    public let configuration: S3Configuration
    let http: HTTPClient
    let signer: SigV4Signer
    let logger: Logger
    /// How long one request may take before it is abandoned (and retried).
    let timeout: TimeAmount

    public init(configuration: S3Configuration, http: HTTPClient, logger: Logger, timeout: TimeAmount = .seconds(300)) {
        self.configuration = configuration
        self.http = http
        self.signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region)
        self.logger = logger
        self.timeout = timeout
    }

    public var bucket: String { configuration.bucket }

    /// One S3 request, before it is signed.
    struct Request {
        var operation: String
        var method: HTTPMethod
        var key: String?
        var query: [(String, String)] = []
        var headers: [(String, String)] = []
        var body: ByteBuffer?
    }

    /// Sends `request`, retrying what is transient; returns the answer when its status is 2xx
    /// (or is in `accepting`), its body unread. Throws `S3Error` for anything else.
    func send(_ request: Request, accepting: Set<Int> = []) async throws -> HTTPClientResponse {
        var attempt = 1
        var delay = configuration.retryBackoff
        while true {
            do {
                return try await sendOnce(request, accepting: accepting)
            } catch let error as S3Error where error.isTransient && attempt < configuration.maxAttempts {
                logger.warning("s3 request failed; retrying", metadata: [
                    "operation": "\(request.operation)", "key": "\(request.key ?? "")", "code": "\(error.code)",
                    "attempt": "\(attempt)",
                ])
                try await Task.sleep(for: delay)
                attempt += 1
                delay *= 2
            }
        }
    }

    private func sendOnce(_ request: Request, accepting: Set<Int>) async throws -> HTTPClientResponse {
        let query = S3Encoding.query(request.query)
        let url = configuration.url(key: request.key, query: query)
        var headers = request.headers
        headers.append(("host", hostHeader))
        let signed = signer.sign(method: request.method.rawValue, url: url, headers: headers,
                                 payloadHash: SigV4Signer.unsignedPayload, date: Date())
        var outgoing = HTTPClientRequest(url: url)
        outgoing.method = request.method
        for (name, value) in headers + signed { outgoing.headers.replaceOrAdd(name: name, value: value) }
        if let body = request.body {
            outgoing.body = .bytes(body)
        } else if request.method == .PUT || request.method == .POST {
            outgoing.headers.replaceOrAdd(name: "content-length", value: "0")
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(outgoing, timeout: timeout)
        } catch {
            throw S3Error(operation: request.operation, bucket: bucket, key: request.key, code: "ConnectionFailed",
                          message: "\(error)", status: 0)
        }
        let status = Int(response.status.code)
        if (200..<300).contains(status) || accepting.contains(status) { return response }
        throw await failure(of: request, response: response)
    }

    /// The error an answer carries: S3's XML `<Error>` body, or its status alone.
    func failure(of request: Request, response: HTTPClientResponse) async -> S3Error {
        let status = Int(response.status.code)
        let body = (try? await response.body.collect(upTo: 64 << 10)).map { Array($0.readableBytesView) } ?? []
        return Self.error(in: body, operation: request.operation, bucket: bucket, key: request.key, status: status)
            ?? S3Error(operation: request.operation, bucket: bucket, key: request.key,
                       code: S3Error.code(forStatus: status), message: "", status: status)
    }

    /// The `<Error>` an XML body holds, if it is one. (S3 may answer 200 to `CopyObject` and
    /// `CompleteMultipartUpload` and still report an error in the body.)
    static func error(in body: [UInt8], operation: String, bucket: String, key: String?, status: Int) -> S3Error? {
        guard let root = S3XMLElement.parse(body), root.name == "Error" else { return nil }
        return S3Error(operation: operation, bucket: bucket, key: key, code: root.text("Code") ?? "Unknown",
                       message: root.text("Message") ?? "", status: status)
    }

    /// The XML body of a successful answer (at most 16 MiB: a list page or a multipart result).
    func xmlBody(of response: HTTPClientResponse, for request: Request) async throws -> S3XMLElement {
        let status = Int(response.status.code)
        let bytes = Array(try await response.body.collect(upTo: 16 << 20).readableBytesView)
        if let error = Self.error(in: bytes, operation: request.operation, bucket: bucket, key: request.key, status: status) {
            throw error
        }
        guard let root = S3XMLElement.parse(bytes) else {
            throw S3Error(operation: request.operation, bucket: bucket, key: request.key, code: "MalformedXML",
                          message: "the answer is not XML", status: status)
        }
        return root
    }

    /// The `Host` header: the endpoint's host and port, with the bucket in front unless path-style.
    private var hostHeader: String {
        let endpoint = configuration.endpoint
        let afterScheme = endpoint.range(of: "://").map { endpoint[$0.upperBound...] } ?? endpoint[...]
        let authority = afterScheme.split(separator: "/", maxSplits: 1).first.map(String.init) ?? String(afterScheme)
        var host = authority
        if endpoint.hasPrefix("https://"), host.hasSuffix(":443") { host.removeLast(4) }
        if endpoint.hasPrefix("http://"), host.hasSuffix(":80") { host.removeLast(3) }
        return configuration.forcePathStyle ? host : "\(bucket).\(host)"
    }
}
