/// A content descriptor: media type, digest and size of a blob, plus optional platform.
///
/// See https://github.com/opencontainers/image-spec/blob/main/descriptor.md
public struct Descriptor: Codable, Hashable, Sendable {
    /// Media type of the referenced content.
    public var mediaType: String
    /// Digest of the referenced content.
    public var digest: Digest
    /// Size in bytes of the referenced content.
    public var size: Int64
    /// Alternative locations (foreign layers); kept so manifests round-trip.
    public var urls: [String]?
    /// Free-form annotations, e.g. `org.opencontainers.image.ref.name` in an image layout index.
    public var annotations: [String: String]?
    /// The platform, for entries of an index.
    public var platform: Platform?
    /// Artifact type, for OCI 1.1 artifacts.
    public var artifactType: String?

    public init(mediaType: String, digest: Digest, size: Int64,
                annotations: [String: String]? = nil, platform: Platform? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }
}

/// An image's platform: OS, architecture and optional variant.
///
/// See https://github.com/opencontainers/image-spec/blob/main/image-index.md#image-index-property-descriptions
public struct Platform: Codable, Hashable, Sendable, CustomStringConvertible {
    public var architecture: String
    public var os: String
    public var variant: String?
    public var osVersion: String?
    public var osFeatures: [String]?

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// Parses `os/arch[/variant]`.
    public init?(parsing string: String) {
        let parts = string.split(separator: "/").map(String.init)
        guard (2...3).contains(parts.count) else { return nil }
        self.init(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
    }

    /// This machine's platform, named as Go does (`amd64`, `arm64`).
    public static var current: Platform {
        #if arch(x86_64)
        return Platform(os: "linux", architecture: "amd64")
        #elseif arch(arm64)
        return Platform(os: "linux", architecture: "arm64", variant: "v8")
        #elseif arch(arm)
        return Platform(os: "linux", architecture: "arm", variant: "v7")
        #else
        return Platform(os: "linux", architecture: "unknown")
        #endif
    }

    /// Whether an index entry's platform satisfies this wanted platform.
    /// A missing variant on either side matches (arm64 images often omit `v8`).
    public func matches(_ other: Platform) -> Bool {
        guard os == other.os, architecture == other.architecture else { return false }
        guard let v = variant, let w = other.variant else { return true }
        return v == w
    }

    public var description: String {
        [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
    }
}
