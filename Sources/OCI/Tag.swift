/// A tag, `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
///
/// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests
public struct Tag: Hashable, Sendable, Comparable, CustomStringConvertible {
    public struct ValidationError: Error, Equatable, CustomStringConvertible {
        public let tag: String
        public var description: String { "invalid tag \"\(tag.prefix(200))\"" }
    }

    public let value: String

    public init(_ text: some StringProtocol) throws(ValidationError) {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, bytes.count <= 128, Self.isWord(first) || false,
              bytes.dropFirst().allSatisfy({ Self.isWord($0) || $0 == 0x2E || $0 == 0x2D }) else {
            throw ValidationError(tag: String(text))
        }
        value = String(text)
    }

    private static func isWord(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F
    }

    public var description: String { value }
    public static func < (lhs: Tag, rhs: Tag) -> Bool { lhs.value < rhs.value }
}

/// The `<reference>` of a manifest URL: a tag or a digest.
public enum ManifestReference: Hashable, Sendable, CustomStringConvertible {
    case tag(Tag)
    case digest(Digest)

    public init(_ text: some StringProtocol) throws(DistributionError) {
        if text.contains(":") {
            do { self = .digest(try Digest(text)) } catch { throw DistributionError(.digestInvalid, error.description) }
        } else {
            // As Distribution, whose routes only match valid tags: an invalid one names no manifest
            // (the conformance suite probes with ".INVALID_MANIFEST_NAME" and expects 404).
            do { self = .tag(try Tag(text)) } catch { throw DistributionError(.manifestUnknown, error.description) }
        }
    }

    public var description: String {
        switch self {
        case .tag(let tag): tag.value
        case .digest(let digest): digest.description
        }
    }
}
