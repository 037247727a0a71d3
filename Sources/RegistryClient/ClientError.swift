import Foundation

/// An error code from the registry's JSON error body.
///
/// See https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes
public enum RegistryErrorCode: String, Sendable, Codable {
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

    /// The code in words, for messages a person reads.
    public var words: String {
        switch self {
        case .blobUnknown: return "blob unknown to the registry"
        case .blobUploadInvalid: return "blob upload invalid"
        case .blobUploadUnknown: return "blob upload unknown (the upload session expired or was cancelled)"
        case .digestInvalid: return "uploaded content does not match its digest"
        case .manifestBlobUnknown: return "manifest refers to a blob the registry does not have"
        case .manifestInvalid: return "manifest invalid"
        case .manifestUnknown: return "manifest unknown (no such tag or digest)"
        case .nameInvalid: return "invalid repository name"
        case .nameUnknown: return "repository unknown to the registry"
        case .sizeInvalid: return "content length does not match the size given"
        case .unauthorized: return "authentication required"
        case .denied: return "access denied"
        case .unsupported: return "operation not supported by this registry"
        case .tooManyRequests: return "too many requests"
        }
    }
}

/// One entry of a registry's `{"errors": [...]}` body.
public struct RegistryErrorDetail: Decodable, Sendable {
    public var code: String
    public var message: String?

    public init(code: String, message: String?) {
        self.code = code
        self.message = message
    }
}

/// Everything the registry client can fail with, phrased for the person at the terminal.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    /// The host name did not resolve.
    case unknownHost(String)
    /// Connecting failed (refused, unreachable, timed out).
    case connection(host: String, reason: String)
    /// TLS handshake or certificate verification failed; `certsPath` is where a CA would go.
    case tls(host: String, reason: String, certsPath: String)
    /// 401 after offering the credentials we have.
    case unauthorized(host: String, hadCredentials: Bool)
    /// 403: the named scope was denied.
    case denied(host: String, scope: String, detail: String?)
    /// Any other non-success status, with the registry's error codes.
    case registry(status: Int, url: String, errors: [RegistryErrorDetail])
    /// A blob or manifest did not hash to its digest.
    case digestMismatch(expected: Digest, actual: Digest)
    /// A blob's size differed from its descriptor.
    case sizeMismatch(digest: Digest, expected: Int64, actual: Int64)
    /// The token service did not give a token.
    case tokenService(realm: String, reason: String)
    /// A protocol-level surprise (missing Location header, bad JSON).
    case protocolViolation(String)
    /// No manifest for the wanted platform in an index.
    case noMatchingPlatform(wanted: String, available: [String])
    /// A credential helper failed.
    case credentialHelper(name: String, reason: String)

    public var description: String {
        switch self {
        case .unknownHost(let h):
            return "unknown host \"\(h)\": the name does not resolve"
        case .connection(let h, let r):
            return "cannot connect to \(h): \(r)"
        case .tls(let h, let r, let path):
            return "TLS failure talking to \(h): \(r)\n"
                + "  to trust a private CA, put it in \(path)/ca.crt "
                + "(client certificates: client.cert and client.key there); "
                + "for a plain-HTTP registry use --insecure"
        case .unauthorized(let h, let had):
            return had
                ? "unauthorized: the registry \(h) rejected the stored credentials; run `berth login \(h)` again"
                : "unauthorized: authentication required; run `berth login \(h)`"
        case .denied(let h, let scope, let detail):
            return "denied: \(h) refused access \"\(scope)\"" + (detail.map { ": \($0)" } ?? "")
        case .registry(let status, let url, let errors):
            if errors.isEmpty { return "registry returned HTTP \(status) for \(url)" }
            let words = errors.map { e -> String in
                let known = RegistryErrorCode(rawValue: e.code)?.words ?? e.code
                if let m = e.message, !m.isEmpty, !known.lowercased().contains(m.lowercased()) { return "\(known) (\(m))" }
                return known
            }
            return words.joined(separator: "; ") + " [HTTP \(status)]"
        case .digestMismatch(let e, let a):
            return "content digest mismatch: expected \(e), got \(a)"
        case .sizeMismatch(let d, let e, let a):
            return "size mismatch for \(d): expected \(e) bytes, got \(a)"
        case .tokenService(let realm, let r):
            return "token service \(realm) failed: \(r)"
        case .protocolViolation(let m):
            return "unexpected registry response: \(m)"
        case .noMatchingPlatform(let w, let a):
            return "no manifest for platform \(w) (available: \(a.joined(separator: ", ")))"
        case .credentialHelper(let n, let r):
            return "credential helper docker-credential-\(n) failed: \(r)"
        }
    }

    /// Whether this is a registry error carrying `code`.
    public func has(_ code: RegistryErrorCode) -> Bool {
        if case .registry(_, _, let errors) = self { return errors.contains { $0.code == code.rawValue } }
        return false
    }

    /// The HTTP status, for registry errors.
    public var status: Int? {
        if case .registry(let s, _, _) = self { return s }
        return nil
    }

    /// Builds the error for a failed response from its status and (small) body.
    static func fromResponse(status: Int, url: String, body: [UInt8]) -> ClientError {
        struct Body: Decodable { var errors: [RegistryErrorDetail]? }
        let errors = (try? JSONDecoder().decode(Body.self, from: Data(body)))?.errors ?? []
        return .registry(status: status, url: url, errors: errors)
    }
}
