/// An error as the distribution spec reports it: a code, a message and the HTTP status.
///
/// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes
/// Every module's domain errors are mapped to this type in one place (the server's error mapping).
public struct DistributionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The closed set of codes from the spec's table, with their default statuses.
    public enum Code: String, Sendable, CaseIterable {
        case blobUnknown = "BLOB_UNKNOWN"
        case blobUploadInvalid = "BLOB_UPLOAD_INVALID"
        case blobUploadUnknown = "BLOB_UPLOAD_UNKNOWN"
        case digestInvalid = "DIGEST_INVALID"
        case manifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
        case manifestInvalid = "MANIFEST_INVALID"
        case manifestUnknown = "MANIFEST_UNKNOWN"
        case nameInvalid = "NAME_INVALID"
        case nameUnknown = "NAME_UNKNOWN"
        case sizeInvalid = "SIZE_INVALID"
        case unauthorized = "UNAUTHORIZED"
        case denied = "DENIED"
        case unsupported = "UNSUPPORTED"
        case tooManyRequests = "TOOMANYREQUESTS"
        case rangeInvalid = "RANGE_INVALID"
        /// Not in the spec's table; Distribution's answer to an invalid tag (`?tag=` on a push).
        case tagInvalid = "TAG_INVALID"
        /// Not in the spec's table; Distribution's answer while a health check fails.
        case unavailable = "UNAVAILABLE"

        public var defaultStatus: Int {
            switch self {
            case .blobUnknown, .blobUploadUnknown, .manifestUnknown, .nameUnknown: 404
            case .unauthorized: 401
            case .denied: 403
            case .unsupported: 405
            case .tooManyRequests: 429
            case .rangeInvalid: 416
            case .unavailable: 503
            default: 400
            }
        }
    }

    public var code: Code
    public var message: String
    public var status: Int
    /// Optional `detail` member of the error object.
    public var detail: String?

    public init(_ code: Code, _ message: String, status: Int? = nil, detail: String? = nil) {
        self.code = code
        self.message = message
        self.status = status ?? code.defaultStatus
        self.detail = detail
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
