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
        var parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        // A trailing slash is only meaningful for `blobs/uploads/`.
        let trailingSlash = parts.last == ""
        if trailingSlash { parts.removeLast() }
        guard parts.count >= 2 else { return nil }
        let count = parts.count
        if count >= 3, parts[count - 2] == "tags", parts[count - 1] == "list", !trailingSlash {
            return .tags(try name(parts[..<(count - 2)]))
        }
        if count >= 3, parts[count - 2] == "blobs", parts[count - 1] == "uploads" {
            return .uploads(try name(parts[..<(count - 2)]))
        }
        if count >= 4, parts[count - 3] == "blobs", parts[count - 2] == "uploads", !trailingSlash {
            let repository = try name(parts[..<(count - 3)])
            guard let id = UploadID(parts[count - 1]) else {
                throw DistributionError(.blobUploadUnknown, "upload \(parts[count - 1].prefix(100)) is unknown")
            }
            return .upload(repository, id)
        }
        guard count >= 3, !trailingSlash else { return nil }
        let kind = parts[count - 2]
        let last = parts[count - 1]
        switch kind {
        case "manifests":
            let repository = try name(parts[..<(count - 2)])
            return .manifest(repository, try ManifestReference(last))
        case "blobs":
            let repository = try name(parts[..<(count - 2)])
            return .blob(repository, try digest(last))
        case "referrers":
            let repository = try name(parts[..<(count - 2)])
            return .referrers(repository, try digest(last))
        default:
            return nil
        }
    }

    private static func name(_ parts: ArraySlice<Substring>) throws(DistributionError) -> RepositoryName {
        let text = parts.joined(separator: "/")
        do { return try RepositoryName(text) } catch {
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
