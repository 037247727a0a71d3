/// Content that did not match its descriptor: the check every client and store makes on the
/// blobs and manifests it receives, before it keeps or trusts them.
public enum ContentMismatch: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes did not hash to the digest they were fetched or pushed by.
    case digest(expected: Digest, actual: Digest)
    /// The bytes were more or fewer than the descriptor's size.
    case size(digest: Digest, expected: Int64, actual: Int64)

    public var description: String {
        switch self {
        case .digest(let expected, let actual): "content digest mismatch: expected \(expected), got \(actual)"
        case .size(let digest, let expected, let actual):
            "size mismatch for \(digest): expected \(expected) bytes, got \(actual)"
        }
    }
}
