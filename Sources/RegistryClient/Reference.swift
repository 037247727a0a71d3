/// An image reference as Docker writes it: `[host[:port]/]name[:tag][@digest]`.
///
/// Normalisation follows distribution/reference `ParseNormalizedNamed`: a first path component
/// is a host only when it contains `.` or `:`, is `localhost`, or has upper-case letters; otherwise
/// the host is `docker.io`, and single-component names there get the `library/` prefix.
/// When neither tag nor digest is given, the tag is `latest`.
/// See https://github.com/distribution/reference/blob/main/reference.go
public struct Reference: Hashable, Sendable, CustomStringConvertible {
    /// The registry host as written (`docker.io` for Docker Hub), with an optional port.
    public let host: String
    /// The repository path inside the registry, e.g. `library/busybox`.
    public let repository: String
    /// The tag, if any (`latest` when neither tag nor digest was given).
    public let tag: String?
    /// The digest, if any.
    public let digest: Digest?

    /// Docker Hub's canonical name and the host its API is served from.
    public static let dockerHub = "docker.io"
    static let dockerHubAPIHost = "registry-1.docker.io"

    /// Builds a reference from validated parts.
    public init(host: String, repository: String, tag: String? = nil, digest: Digest? = nil) throws(ReferenceError) {
        guard Self.isValidHost(host) else { throw .invalidHost(host) }
        guard Self.isValidRepository(repository) else {
            if repository.lowercased() != repository { throw .uppercase(repository) }
            throw .invalidRepository(repository)
        }
        guard host.utf8.count + 1 + repository.utf8.count <= 255 else { throw .nameTooLong(repository) }
        if let tag, !Self.isValidTag(tag) { throw .invalidTag(tag) }
        self.host = host
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses a reference the way `docker pull` does.
    public init(parsing string: String) throws(ReferenceError) {
        guard !string.isEmpty else { throw .empty }
        var rest = Substring(string)
        var digest: Digest?
        if let at = rest.lastIndex(of: "@") {
            digest = try Digest(parsing: String(rest[rest.index(after: at)...]))
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
        if let tag { s += ":" + tag }
        if let digest { s += "@" + digest.description }
        return s
    }

    /// What a registry manifest URL takes: the digest when present, else the tag.
    public var manifestReference: String { digest?.description ?? tag ?? "latest" }

    /// The host the registry API is served from (`registry-1.docker.io` for Docker Hub).
    public var apiHost: String { Self.apiHost(for: host) }

    /// Maps a host as written to the host serving its API.
    public static func apiHost(for host: String) -> String {
        host == dockerHub || host == "index.docker.io" ? dockerHubAPIHost : host
    }

    /// The same repository with another tag and no digest.
    public func withTag(_ tag: String) throws(ReferenceError) -> Reference {
        try Reference(host: host, repository: repository, tag: tag, digest: nil)
    }

    /// The same repository pinned to a digest (tag kept for display).
    public func withDigest(_ digest: Digest) -> Reference {
        // Parts were validated when self was built.
        (try? Reference(host: host, repository: repository, tag: tag, digest: digest)) ?? self
    }

    // MARK: grammar

    /// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
    static func isValidTag(_ tag: String) -> Bool {
        let u = Array(tag.utf8)
        guard (1...128).contains(u.count) else { return false }
        func word(_ c: UInt8) -> Bool { isAlnum(c) || c == UInt8(ascii: "_") }
        guard word(u[0]) else { return false }
        return u.dropFirst().allSatisfy { word($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// Components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`.
    static func isValidRepository(_ path: String) -> Bool {
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        return !components.isEmpty && components.allSatisfy { isValidPathComponent(Array($0.utf8)) }
    }

    static func isValidPathComponent(_ u: [UInt8]) -> Bool {
        func lowerAlnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
        guard let first = u.first, let last = u.last, lowerAlnum(first), lowerAlnum(last) else { return false }
        var i = 0
        while i < u.count {
            if lowerAlnum(u[i]) { i += 1; continue }
            // A separator run: ".", "_", "__", or one or more "-".
            var j = i
            while j < u.count && !lowerAlnum(u[j]) { j += 1 }
            let sep = u[i..<j]
            let ok = sep.elementsEqual([46]) || sep.elementsEqual([95]) || sep.elementsEqual([95, 95])
                || sep.allSatisfy { $0 == 45 }
            guard ok else { return false }
            i = j
        }
        return true
    }

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
            return !port.isEmpty && port.allSatisfy(\.isASCII) && port.allSatisfy(\.isNumber)
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
