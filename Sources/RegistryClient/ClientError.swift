import Foundation
import OCI

extension DistributionError.Code {
    /// The code in words, for messages a person reads.
    public var words: String {
        switch self {
        case .blobUnknown: "blob unknown to the registry"
        case .blobUploadInvalid: "blob upload invalid"
        case .blobUploadUnknown: "blob upload unknown (the upload session expired or was cancelled)"
        case .digestInvalid: "uploaded content does not match its digest"
        case .manifestBlobUnknown: "manifest refers to a blob the registry does not have"
        case .manifestInvalid: "manifest invalid"
        case .manifestUnknown: "manifest unknown (no such tag or digest)"
        case .nameInvalid: "invalid repository name"
        case .nameUnknown: "repository unknown to the registry"
        case .sizeInvalid: "content length does not match the size given"
        case .unauthorized: "authentication required"
        case .denied: "access denied"
        case .unsupported: "operation not supported by this registry"
        case .tooManyRequests: "too many requests"
        case .rangeInvalid: "requested range not satisfiable"
        case .tagInvalid: "invalid tag"
        case .unavailable: "the registry is unavailable (a health check is failing)"
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
                let known = DistributionError.Code(rawValue: e.code)?.words ?? e.code
                if let m = e.message, !m.isEmpty, !known.lowercased().contains(m.lowercased()) { return "\(known) (\(m))" }
                return known
            }
            return words.joined(separator: "; ") + " [HTTP \(status)]"
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
    public func has(_ code: DistributionError.Code) -> Bool {
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
