import Foundation
import Crypto

/// A content digest such as `sha256:<64 hex>`.
///
/// Validated once when built, so a `Digest` can be joined into a file path or URL safely.
/// See https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests
public struct Digest: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The algorithm; only `sha256` and `sha512` are accepted.
    public let algorithm: String
    /// The lower-case hex encoding of the hash.
    public let hex: String

    /// Parses `algorithm:hex`, checking the algorithm and the hex length.
    public init(parsing string: String) throws(ReferenceError) {
        guard let colon = string.firstIndex(of: ":") else { throw .invalidDigest(string) }
        let algorithm = String(string[..<colon])
        let hex = String(string[string.index(after: colon)...])
        let expected: Int
        switch algorithm {
        case "sha256": expected = 64
        case "sha512": expected = 128
        default: throw .invalidDigest(string)
        }
        guard hex.utf8.count == expected,
              hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
        else { throw .invalidDigest(string) }
        self.algorithm = algorithm
        self.hex = hex
    }

    /// Builds a sha256 digest from a finished hash.
    public init(sha256 hash: SHA256.Digest) {
        self.algorithm = "sha256"
        self.hex = hash.map { byte in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }

    /// The sha256 digest of `bytes`.
    public static func sha256<D: DataProtocol>(of bytes: D) -> Digest {
        Digest(sha256: SHA256.hash(data: bytes))
    }

    public var description: String { "\(algorithm):\(hex)" }

    /// First 12 hex characters, as Docker shows image IDs.
    public var short: String { String(hex.prefix(12)) }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }

    public init(from decoder: any Decoder) throws {
        let string = try decoder.singleValueContainer().decode(String.self)
        try self.init(parsing: string)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Hashes a stream of chunks incrementally (sha256 only), so blobs never sit whole in memory.
public struct DigestHasher: Sendable {
    private var hasher = SHA256()
    /// Bytes seen so far.
    public private(set) var count: Int64 = 0

    public init() {}

    /// Feeds raw bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
        count += Int64(bytes.count)
    }

    /// The digest of all bytes fed so far.
    public func finalize() -> Digest { Digest(sha256: hasher.finalize()) }
}
