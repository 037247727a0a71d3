/// An image reference as Docker writes it: `[host[:port]/]name[:tag][@digest]`.
///
/// Normalisation follows distribution/reference `ParseNormalizedNamed`: a first path component
/// is a host only when it contains `.` or `:`, is `localhost`, or has upper-case letters; otherwise
/// the host is `docker.io`, and single-component names there get the `library/` prefix.
/// When neither tag nor digest is given, the tag is `latest`. The name and the tag are checked by
/// `RepositoryName` and `Tag`, the same grammar the registry enforces.
/// See https://github.com/distribution/reference/blob/main/reference.go
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// Why a reference string was rejected, phrased for the person who typed it.
    public enum ValidationError: Error, Equatable, Sendable, CustomStringConvertible {
        case empty
        case invalidDigest(String)
        case invalidTag(String)
        case invalidRepository(String)
        case invalidHost(String)
        case nameTooLong(String)
        case uppercase(String)

        public var description: String {
            switch self {
            case .empty: "invalid reference: empty"
            case .invalidDigest(let s): "invalid digest \"\(s)\""
            case .invalidTag(let s): "invalid tag \"\(s)\": use [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
            case .invalidRepository(let s): "invalid repository name \"\(s)\""
            case .invalidHost(let s): "invalid registry host \"\(s)\""
            case .nameTooLong(let s): "repository name \"\(s)\" is longer than 255 characters"
            case .uppercase(let s): "invalid reference \"\(s)\": repository name must be lowercase"
            }
        }
    }

    /// The registry host as written (`docker.io` for Docker Hub), with an optional port.
    public let host: String
    /// The repository inside the registry, e.g. `library/busybox`.
    public let repository: RepositoryName
    /// The tag, if any (`latest` when neither tag nor digest was given).
    public let tag: Tag?
    /// The digest, if any.
    public let digest: Digest?

    /// Docker Hub's canonical name and the host its API is served from.
    public static let dockerHub = "docker.io"
    static let dockerHubAPIHost = "registry-1.docker.io"

    /// Builds a reference from parts, checking each.
    public init(host: String, repository: String, tag: String? = nil, digest: Digest? = nil) throws(ValidationError) {
        guard Self.isValidHost(host) else { throw .invalidHost(host) }
        guard host.utf8.count + 1 + repository.utf8.count <= RepositoryName.maximumLength else {
            throw .nameTooLong(repository)
        }
        guard let name = try? RepositoryName(repository) else {
            if repository.lowercased() != repository { throw .uppercase(repository) }
            throw .invalidRepository(repository)
        }
        var checkedTag: Tag?
        if let tag {
            guard let valid = try? Tag(tag) else { throw .invalidTag(tag) }
            checkedTag = valid
        }
        self.init(host: host, repository: name, tag: checkedTag, digest: digest)
    }

    /// Builds a reference from parts that are already checked.
    public init(host: String, repository: RepositoryName, tag: Tag?, digest: Digest?) {
        self.host = host
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses a reference the way `docker pull` does.
    public init(parsing string: String) throws(ValidationError) {
        guard !string.isEmpty else { throw .empty }
        var rest = Substring(string)
        var digest: Digest?
        if let at = rest.lastIndex(of: "@") {
            let text = rest[rest.index(after: at)...]
            guard let parsed = try? Digest(text) else { throw .invalidDigest(String(text)) }
            digest = parsed
            rest = rest[..<at]
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
        }
        guard !rest.isEmpty else { throw .invalidRepository(string) }
        var host = Self.dockerHub
        var path = String(rest)
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first {
                host = String(first)
                path = String(rest[rest.index(after: slash)...])
            }
        }
        if host == "index.docker.io" { host = Self.dockerHub }
        if host == Self.dockerHub && !path.contains("/") { path = "library/" + path }
        if tag == nil && digest == nil { tag = "latest" }
        try self.init(host: host, repository: path, tag: tag, digest: digest)
    }

    /// `host/repository`, the name without tag or digest.
    public var name: String { "\(host)/\(repository)" }

    /// The full normalised reference: `host/repository[:tag][@digest]`.
    public var description: String {
        var s = name
        if let tag { s += ":" + tag.value }
        if let digest { s += "@" + digest.description }
        return s
    }

    /// What a registry manifest URL takes: the digest when present, else the tag.
    public var manifestReference: ManifestReference {
        if let digest { return .digest(digest) }
        // `Tag` accepts "latest".
        // swiftlint:disable:next force_try
        return .tag(tag ?? (try! Tag("latest")))
    }

    /// The host the registry API is served from (`registry-1.docker.io` for Docker Hub).
    public var apiHost: String { Self.apiHost(for: host) }

    /// Maps a host as written to the host serving its API.
    public static func apiHost(for host: String) -> String {
        host == dockerHub || host == "index.docker.io" ? dockerHubAPIHost : host
    }

    /// The same repository with another tag and no digest.
    public func withTag(_ tag: String) throws(ValidationError) -> ImageReference {
        guard let valid = try? Tag(tag) else { throw .invalidTag(tag) }
        return ImageReference(host: host, repository: repository, tag: valid, digest: nil)
    }

    /// The same repository pinned to a digest (tag kept for display).
    public func withDigest(_ digest: Digest) -> ImageReference {
        ImageReference(host: host, repository: repository, tag: tag, digest: digest)
    }

    /// The same repository pinned to a digest, without the tag.
    public func onlyDigest(_ digest: Digest) -> ImageReference {
        ImageReference(host: host, repository: repository, tag: nil, digest: digest)
    }

    // MARK: host grammar

    /// DNS labels joined by `.` (or a bracketed IPv6 address), with an optional `:port`.
    static func isValidHost(_ host: String) -> Bool {
        var name = Substring(host)
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { return false }
            let inner = name[name.index(after: name.startIndex)..<close]
            guard !inner.isEmpty, inner.allSatisfy({ $0.isHexDigit || $0 == ":" }) else { return false }
            name = name[name.index(after: close)...]
            if name.isEmpty { return true }
            guard name.hasPrefix(":") else { return false }
            let port = name.dropFirst()
            return !port.isEmpty && port.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
        }
        if let colon = name.lastIndex(of: ":") {
            let port = name[name.index(after: colon)...]
            guard !port.isEmpty, port.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return false }
            name = name[..<colon]
        }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty && labels.allSatisfy { label in
            let u = Array(label.utf8)
            guard let f = u.first, let l = u.last, isAlnum(f), isAlnum(l) else { return false }
            return u.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
        }
    }

    static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
    }
}
