import OCI
import RegistryStorage

/// The endpoint a request path names, with its parts already parsed and validated.
///
/// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#endpoints
/// Repository names contain slashes, so the path is read from its end, as Distribution's routes do.
enum RegistryRoute: Equatable {
    case base
    case catalog
    case tags(RepositoryName)
    case manifest(RepositoryName, ManifestReference)
    case blob(RepositoryName, Digest)
    case uploads(RepositoryName)
    case upload(RepositoryName, UploadID)
    case referrers(RepositoryName, Digest)

    /// Parses `path` (without query), relative to the API root `/v2/`. Returns nil when the path is
    /// not an API endpoint at all; throws `NAME_INVALID`, `DIGEST_INVALID` or `BLOB_UPLOAD_UNKNOWN`
    /// when it is one but a part is malformed.
    static func parse(_ path: Substring) throws(DistributionError) -> RegistryRoute? {
        guard path == "/v2" || path.hasPrefix("/v2/") else { return nil }
        let rest = path.dropFirst(path == "/v2" ? 3 : 4)
        if rest.isEmpty { return .base }
        if rest == "_catalog" { return .catalog }
        // Segments are taken from the end, as views into the path: no array, no joined name.
        let trailingSlash = rest.hasSuffix("/")
        let body = trailingSlash ? rest.dropLast() : rest
        guard case let (beforeLast, last)? = splitLast(body), case let (beforeSecond, second)? = splitLast(beforeLast) else {
            return nil
        }
        if second == "tags", last == "list", !trailingSlash {
            return .tags(try name(beforeSecond))
        }
        if second == "blobs", last == "uploads" {
            return .uploads(try name(beforeSecond))
        }
        if second == "uploads", !trailingSlash, case let (beforeThird, third)? = splitLast(beforeSecond), third == "blobs" {
            let repository = try name(beforeThird)
            guard let id = UploadID(last) else {
                throw DistributionError(.blobUploadUnknown, "upload \(last.prefix(100)) is unknown")
            }
            return .upload(repository, id)
        }
        guard !trailingSlash else { return nil }
        switch second {
        case "manifests":
            let repository = try name(beforeSecond)
            return .manifest(repository, try ManifestReference(last))
        case "blobs":
            let repository = try name(beforeSecond)
            return .blob(repository, try digest(last))
        case "referrers":
            let repository = try name(beforeSecond)
            return .referrers(repository, try digest(last))
        default:
            return nil
        }
    }

    /// The text before the last `/` and after it; nil without one.
    private static func splitLast(_ text: Substring) -> (Substring, Substring)? {
        guard let slash = text.lastIndex(of: "/") else { return nil }
        return (text[..<slash], text[text.index(after: slash)...])
    }

    private static func name(_ text: Substring) throws(DistributionError) -> RepositoryName {
        do { return try RepositoryName(String(text)) } catch {
            throw DistributionError(.nameInvalid, error.description)
        }
    }

    static func digest(_ text: some StringProtocol) throws(DistributionError) -> Digest {
        do { return try Digest(text) } catch { throw DistributionError(.digestInvalid, error.description) }
    }

    /// The repository the route is about, if any.
    var repository: RepositoryName? {
        switch self {
        case .base, .catalog: nil
        case .tags(let name), .manifest(let name, _), .blob(let name, _), .uploads(let name),
             .upload(let name, _), .referrers(let name, _): name
        }
    }
}
