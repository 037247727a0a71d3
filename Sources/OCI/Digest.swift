/// A content digest, `algorithm:encoded`, checked against the registered algorithms.
///
/// Spec: https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests
/// Only `sha256` (64 lower-case hex) and `sha512` (128 lower-case hex) are accepted, so a digest
/// can be joined into a storage path without any further checks.
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public enum Algorithm: String, Sendable, CaseIterable, Codable {
        case sha256, sha512
        /// Number of hex characters in an encoded digest of this algorithm.
        public var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    public enum ValidationError: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        case unsupportedAlgorithm(String)
        public var description: String {
            switch self {
            case .malformed(let text): "invalid digest \"\(text.prefix(200))\""
            case .unsupportedAlgorithm(let alg): "unsupported digest algorithm \"\(alg.prefix(50))\""
            }
        }
    }

    public let algorithm: Algorithm
    /// Lower-case hex, exactly `algorithm.hexLength` characters.
    public let hex: String

    public init(_ text: some StringProtocol) throws(ValidationError) {
        guard let colon = text.firstIndex(of: ":") else { throw .malformed(String(text)) }
        let algText = text[..<colon]
        let hex = text[text.index(after: colon)...]
        guard let algorithm = Algorithm(rawValue: String(algText)) else {
            // Well-formed but unknown algorithms are "unsupported"; anything else is malformed.
            let grammar = !algText.isEmpty && algText.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2B || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D
            }
            throw grammar ? .unsupportedAlgorithm(String(algText)) : .malformed(String(text))
        }
        guard hex.utf8.count == algorithm.hexLength,
              hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw .malformed(String(text))
        }
        self.algorithm = algorithm
        self.hex = String(hex)
    }

    public init(algorithm: Algorithm, hex: String) throws(ValidationError) {
        try self.init("\(algorithm.rawValue):\(hex)")
    }

    public var description: String { "\(algorithm.rawValue):\(hex)" }

    /// The first 12 hex characters, as Docker shows image and container IDs.
    public var short: String { String(hex.prefix(12)) }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
