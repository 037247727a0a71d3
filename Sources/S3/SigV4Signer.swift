import Crypto
import Foundation
import NIOCore

/// An AWS access key pair and, for temporary (STS) credentials, its session token.
///
/// Its descriptions never show the secret key or the token, so the value is safe to log.
public struct AWSCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKey: String
    public var secretKey: String
    public var sessionToken: String?

    public init(accessKey: String, secretKey: String, sessionToken: String? = nil) {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
    }

    public var description: String {
        let token = sessionToken == nil ? "" : ", sessionToken: <redacted>"
        return "AWSCredentials(accessKey: \(accessKey), secretKey: <redacted>\(token))"
    }

    public var debugDescription: String { description }
}

/// Signs S3 requests with AWS Signature Version 4, in the `Authorization` header or in a
/// presigned URL's query string.
///
/// The algorithm is AWS's <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>
/// with S3's rules (<https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>):
/// the path is signed as it is, each segment URI-encoded once and never normalised, because an S3
/// key may hold `//`, `.` or `..` and S3 signs the key, not a file-system path. That is also what
/// botocore's `S3SigV4Auth` does, which the tests check against.
///
/// The signer is a plain value: it derives the signing key afresh for each request rather than
/// caching it per date. The derivation is four HMAC-SHA256 over a few dozen bytes (a few
/// microseconds), noise beside an HTTP round trip, and a cache would need a class, a lock shared by
/// every concurrent request and invalidation at midnight UTC — more to get wrong than it saves.
public struct SigV4Signer: Sendable {
    /// The `x-amz-content-sha256` value for a body that is not signed (S3 over TLS, streamed uploads).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// The hex SHA-256 of an empty body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public let credentials: AWSCredentials
    public let region: String
    /// The service name in the credential scope: `s3` for S3 and its clones (MinIO, Ceph RGW).
    public let service: String

    public init(credentials: AWSCredentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The hex SHA-256 of a request body, for `payloadHash`.
    public static func payloadHash(_ bytes: some DataProtocol) -> String {
        SigV4Encoding.hex(SHA256.hash(data: bytes))
    }

    /// The hex SHA-256 of a request body's readable bytes, for `payloadHash`.
    public static func payloadHash(_ buffer: ByteBuffer) -> String {
        buffer.withUnsafeReadableBytes { SigV4Encoding.hex(SHA256.hash(data: $0)) }
    }

    /// AWS's `UriEncode()`: every byte but the RFC 3986 unreserved ones percent-encoded (UTF-8,
    /// upper-case hex, space as `%20`), `/` kept when `encodeSlash` is false. Building request URLs
    /// with it (`encodeSlash: false` for an object key's path) makes the path sent the exact path signed.
    public static func uriEncode(_ text: some StringProtocol, encodeSlash: Bool = true) -> String {
        SigV4Encoding.encode(text.utf8, keepingSlash: !encodeSlash)
    }

    /// Signs a request for the `Authorization` header and returns the headers to add to it:
    /// `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (with a session token) and
    /// `Authorization`.
    ///
    /// Headers are plain `(name, value)` pairs, in and out, because that is what a request is
    /// assembled from before it becomes AsyncHTTPClient's `HTTPHeaders` (add the result with
    /// `replaceOrAdd`, so none is sent twice); repeated names are signed in the order given.
    ///
    /// - Parameters:
    ///   - method: The HTTP method, e.g. `GET`.
    ///   - url: The request URL. Its path and query may be percent-encoded in any equivalent way;
    ///     they are decoded and re-encoded canonically (build them with ``uriEncode(_:encodeSlash:)``
    ///     to send exactly what is signed). `+` in the query is a plus, not a space.
    ///   - headers: The headers the request will carry. All are signed except hop-by-hop ones and
    ///     `User-Agent` (which HTTP clients and proxies may rewrite; botocore leaves them out too),
    ///     `Authorization`, and those this method returns. Without a `Host` header, the host is the
    ///     URL's, with its port when not the scheme's default: the value AsyncHTTPClient sends.
    ///   - payloadHash: The hex SHA-256 of the body (``payloadHash(_:)``, ``emptyPayloadHash``)
    ///     or ``unsignedPayload``.
    ///   - date: The signing time; S3 refuses requests more than 15 minutes off its clock.
    public func sign(
        method: String, url: URL, headers: [(String, String)], payloadHash: String, date: Date = Date()
    ) -> [(String, String)] {
        headerSignature(method: method, url: url, headers: headers, payloadHash: payloadHash, date: date).headers
    }

    /// `sign(method:url:headers:payloadHash:date:)` for a URL in text, as AsyncHTTPClient's
    /// `HTTPClientRequest` takes it. It must be an absolute URL (a programming error otherwise).
    public func sign(
        method: String, url: String, headers: [(String, String)], payloadHash: String, date: Date = Date()
    ) -> [(String, String)] {
        sign(method: method, url: Self.parse(url), headers: headers, payloadHash: payloadHash, date: date)
    }

    /// Presigns a request in the query string, for a client that holds no credentials (e.g. a
    /// redirect to a blob), per <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html>.
    ///
    /// Adds `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
    /// `X-Amz-SignedHeaders=host` (and `X-Amz-Security-Token` with a session token) after the URL's
    /// own query parameters, then `X-Amz-Signature`. The payload is `UNSIGNED-PAYLOAD`: the body is
    /// unknown when the URL is made. Path and query come back in canonical encoding.
    ///
    /// - Parameter expires: Validity in seconds, 1 to 604800 (seven days, S3's limit).
    public func presignedURL(method: String, url: URL, expires: Int, date: Date = Date()) -> URL {
        presign(method: method, url: url, expires: expires, date: date).url
    }

    /// `presignedURL(method:url:expires:date:)` for a URL in text; the presigned URL as text.
    public func presignedURL(method: String, url: String, expires: Int, date: Date = Date()) -> String {
        presign(method: method, url: Self.parse(url), expires: expires, date: date).url.absoluteString
    }

    private static func parse(_ url: String) -> URL {
        guard let parsed = URL(string: url), parsed.host != nil else {
            preconditionFailure("SigV4Signer: not an absolute URL: \(url)")
        }
        return parsed
    }

    // MARK: - The algorithm, with its intermediate strings kept for tests

    /// One header signature with the strings that produced it.
    struct HeaderSignature: Sendable {
        var canonicalRequest: String
        var stringToSign: String
        var signature: String
        var authorization: String
        /// The headers ``sign(method:url:headers:payloadHash:date:)`` returns.
        var headers: [(String, String)]
    }

    /// One presigned URL with the strings that produced it.
    struct Presigned: Sendable {
        var url: URL
        var canonicalRequest: String
        var stringToSign: String
    }

    static let algorithm = "AWS4-HMAC-SHA256"

    /// Headers never signed: hop-by-hop ones and those clients and proxies rewrite (botocore's list).
    static let unsignedHeaderNames: Set<String> = [
        "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    /// Signs for the `Authorization` header. `includeContentSHA256` is false only for AWS's generic
    /// test suite, whose service (unlike S3) does not take `x-amz-content-sha256`.
    func headerSignature(
        method: String,
        url: URL,
        headers: [(String, String)],
        payloadHash: String,
        date: Date,
        includeContentSHA256: Bool = true
    ) -> HeaderSignature {
        let amzDate = SigV4Encoding.amzDate(date)
        var added = [("x-amz-date", amzDate)]
        if includeContentSHA256 { added.append(("x-amz-content-sha256", payloadHash)) }
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }

        var toSign: [(name: String, value: String)] = []
        var hasHost = false
        for (name, value) in headers {
            let lowered = name.trimmingCharacters(in: .whitespaces).lowercased()
            let ownHeader = lowered == "authorization" || added.contains { $0.0 == lowered }
            if ownHeader || Self.unsignedHeaderNames.contains(lowered) { continue }
            hasHost = hasHost || lowered == "host"
            toSign.append((lowered, value))
        }
        if !hasHost { toSign.append(("host", Self.hostHeader(for: url))) }
        for (name, value) in added { toSign.append((name, value)) }

        let (canonicalHeaders, signedHeaders) = SigV4Encoding.canonicalHeaders(toSign)
        let query = SigV4Encoding.sorted(SigV4Encoding.canonicalQueryPairs(url.query(percentEncoded: true)))
        let canonicalRequest = [
            method.uppercased(),
            Self.canonicalURI(url),
            SigV4Encoding.joinQuery(query),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        let (scope, stringToSign, signature) = sign(canonicalRequest: canonicalRequest, amzDate: amzDate)
        let authorization = "\(Self.algorithm) Credential=\(credentials.accessKey)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        added.append(("Authorization", authorization))
        return HeaderSignature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature,
            authorization: authorization, headers: added)
    }

    /// Presigns in the query string (see ``presignedURL(method:url:expires:date:)``).
    func presign(method: String, url: URL, expires: Int, date: Date) -> Presigned {
        precondition((1...604_800).contains(expires), "X-Amz-Expires must be 1...604800 seconds, not \(expires)")
        let amzDate = SigV4Encoding.amzDate(date)
        let host = Self.hostHeader(for: url)
        let scope = credentialScope(amzDate: amzDate)
        var query = SigV4Encoding.canonicalQueryPairs(url.query(percentEncoded: true))
        query.append(("X-Amz-Algorithm", Self.algorithm))
        let credential = "\(credentials.accessKey)/\(scope)"
        query.append(("X-Amz-Credential", SigV4Encoding.encode(credential.utf8, keepingSlash: false)))
        query.append(("X-Amz-Date", amzDate))
        query.append(("X-Amz-Expires", String(expires)))
        query.append(("X-Amz-SignedHeaders", "host"))
        if let token = credentials.sessionToken {
            query.append(("X-Amz-Security-Token", SigV4Encoding.encode(token.utf8, keepingSlash: false)))
        }
        let path = Self.canonicalURI(url)
        let canonicalRequest = [
            method.uppercased(), path, SigV4Encoding.joinQuery(SigV4Encoding.sorted(query)),
            "host:\(SigV4Encoding.trimAll(host))\n", "host", Self.unsignedPayload,
        ].joined(separator: "\n")
        let (_, stringToSign, signature) = sign(canonicalRequest: canonicalRequest, amzDate: amzDate)
        query.append(("X-Amz-Signature", signature))

        let scheme = url.scheme?.lowercased() ?? "https"
        let text = "\(scheme)://\(host)\(path)?\(SigV4Encoding.joinQuery(query))"
        guard let presigned = URL(string: text) else {
            preconditionFailure("a presigned URL is plain ASCII and always parses: \(text)")
        }
        return Presigned(url: presigned, canonicalRequest: canonicalRequest, stringToSign: stringToSign)
    }

    /// `yyyymmdd/region/service/aws4_request`.
    func credentialScope(amzDate: String) -> String {
        "\(amzDate.prefix(8))/\(region)/\(service)/aws4_request"
    }

    /// The string to sign and its signature for a canonical request.
    private func sign(
        canonicalRequest: String, amzDate: String
    ) -> (scope: String, stringToSign: String, signature: String) {
        let scope = credentialScope(amzDate: amzDate)
        let requestHash = SigV4Encoding.hex(SHA256.hash(data: Array(canonicalRequest.utf8)))
        let stringToSign = "\(Self.algorithm)\n\(amzDate)\n\(scope)\n\(requestHash)"
        let key = signingKey(dateStamp: String(amzDate.prefix(8)))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key)
        return (scope, stringToSign, SigV4Encoding.hex(mac))
    }

    /// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    private func signingKey(dateStamp: String) -> SymmetricKey {
        var key = SymmetricKey(data: Array("AWS4\(credentials.secretKey)".utf8))
        for part in [dateStamp, region, service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        return key
    }

    /// The canonical URI: the URL's path, each byte encoded once, `/` kept; `/` when empty.
    static func canonicalURI(_ url: URL) -> String {
        let path = url.path(percentEncoded: true)
        return path.isEmpty ? "/" : SigV4Encoding.recode(path.utf8, keepingSlash: true)
    }

    /// The `Host` header AsyncHTTPClient derives from a URL: the host, bracketed when IPv6, and
    /// `:port` unless the port is the scheme's default.
    static func hostHeader(for url: URL) -> String {
        var host = url.host(percentEncoded: true) ?? ""
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }
        guard let port = url.port else { return host }
        switch (url.scheme?.lowercased(), port) {
        case ("http", 80), ("https", 443): return host
        default: return "\(host):\(port)"
        }
    }
}
