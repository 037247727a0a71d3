/// Where a bucket is and how to reach it: Distribution's `storage.s3` keys, as the client needs them.
public struct S3Configuration: Sendable {
    /// `scheme://host[:port]` of the service, no path: `regionendpoint`, or AWS's own endpoint
    /// for the region when that is not given.
    public var endpoint: String
    public var region: String
    public var bucket: String
    /// `forcepathstyle`: the bucket in the path (`host/bucket/key`) rather than in the host name
    /// (`bucket.host/key`). S3-compatible stores (Ceph RGW, MinIO) usually need it.
    public var forcePathStyle: Bool
    public var credentials: AWSCredentials
    /// Tries of one request when the store answers 500/503 (`SlowDown`) or the connection fails.
    public var maxAttempts = 5
    /// The wait before the second try; it doubles for each later one.
    public var retryBackoff: Duration = .milliseconds(100)

    public init(endpoint: String?, region: String, bucket: String, forcePathStyle: Bool, secure: Bool = true,
                credentials: AWSCredentials) {
        self.endpoint = endpoint.map { Self.trimmed($0) } ?? "\(secure ? "https" : "http")://s3.\(region).amazonaws.com"
        self.region = region
        self.bucket = bucket
        self.forcePathStyle = forcePathStyle
        self.credentials = credentials
    }

    private static func trimmed(_ endpoint: String) -> String {
        var value = endpoint
        while value.hasSuffix("/") { value.removeLast() }
        return value
    }

    /// The URL of `key` in the bucket (the bucket itself when nil), its path segments encoded as
    /// SigV4 signs them; `query` is appended already encoded.
    func url(key: String?, query: String) -> String {
        let encodedKey = key.map { "/" + S3Encoding.encodePath($0) } ?? "/"
        var url: String
        if forcePathStyle {
            url = endpoint + "/" + S3Encoding.encode(bucket) + (key == nil ? "" : encodedKey)
        } else {
            let schemeEnd = endpoint.range(of: "://").map { $0.upperBound } ?? endpoint.startIndex
            url = String(endpoint[..<schemeEnd]) + bucket + "." + String(endpoint[schemeEnd...]) + encodedKey
        }
        if !query.isEmpty { url += "?" + query }
        return url
    }
}

/// Keys and query parameters encoded exactly as SigV4 signs them, so what is sent is what is signed.
enum S3Encoding {
    /// A key as a URL path: each segment encoded, the slashes kept.
    static func encodePath(_ key: String) -> String { SigV4Signer.uriEncode(key, encodeSlash: false) }

    static func encode(_ value: String) -> String { SigV4Signer.uriEncode(value) }

    /// `name=value&...` in the given order, each part encoded.
    static func query(_ items: [(String, String)]) -> String {
        items.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
    }
}
