/// A request S3 refused or could not answer, naming what was asked: the operation, the bucket,
/// the key and S3's own error code (`NoSuchKey`, `AccessDenied`, `SlowDown`, ...).
///
/// Never holds a credential: the request's headers are not kept.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    /// The S3 API call (`PutObject`, `UploadPart`, `CompleteMultipartUpload`, ...).
    public var operation: String
    public var bucket: String
    public var key: String?
    /// S3's error code from the XML body; for an answer without a body (a `HEAD`), one derived
    /// from the status (`NotFound`, `Forbidden`, ...). `ConnectionFailed` when nothing answered.
    public var code: String
    public var message: String
    /// The HTTP status, 0 when nothing answered.
    public var status: Int

    public init(operation: String, bucket: String, key: String?, code: String, message: String, status: Int) {
        self.operation = operation
        self.bucket = bucket
        self.key = key
        self.code = code
        self.message = message
        self.status = status
    }

    public var description: String {
        let target = key.map { "\(bucket)/\($0)" } ?? bucket
        let detail = message.isEmpty ? "" : ": \(message)"
        let status = status == 0 ? "" : " (HTTP \(self.status))"
        return "s3 \(operation) \(target): \(code)\(status)\(detail)"
    }

    /// Worth another try: the store is busy or briefly failing, or the connection broke.
    var isTransient: Bool {
        status == 500 || status == 502 || status == 503 || status == 504 || code == "SlowDown"
            || code == "ConnectionFailed" || code == "RequestTimeout" || code == "InternalError"
    }

    /// The code S3 gives an answer with no body (`HEAD`), from its status.
    static func code(forStatus status: Int) -> String {
        switch status {
        case 301, 307: "PermanentRedirect"
        case 400: "BadRequest"
        case 403: "Forbidden"
        case 404: "NotFound"
        case 409: "Conflict"
        case 412: "PreconditionFailed"
        case 416: "InvalidRange"
        case 503: "SlowDown"
        default: "HTTP\(status)"
        }
    }
}
