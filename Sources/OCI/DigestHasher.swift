import Crypto

/// Computes a `Digest` incrementally over a stream.
///
/// A value type: copying it snapshots the state, which lets an upload roll back a chunk that failed
/// half-way without rehashing what came before.
public struct DigestHasher: Sendable {
    private enum State: Sendable {
        case sha256(SHA256)
        case sha512(SHA512)
    }

    private var state: State
    public let algorithm: Digest.Algorithm

    public init(_ algorithm: Digest.Algorithm = .sha256) {
        self.algorithm = algorithm
        switch algorithm {
        case .sha256: state = .sha256(SHA256())
        case .sha512: state = .sha512(SHA512())
        }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .sha256(var hasher):
            hasher.update(bufferPointer: bytes)
            state = .sha256(hasher)
        case .sha512(var hasher):
            hasher.update(bufferPointer: bytes)
            state = .sha512(hasher)
        }
    }

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        switch state {
        case .sha256(var hasher):
            hasher.update(data: Array(bytes))
            state = .sha256(hasher)
        case .sha512(var hasher):
            hasher.update(data: Array(bytes))
            state = .sha512(hasher)
        }
    }

    public func finalize() -> Digest {
        let hex: String
        switch state {
        case .sha256(let hasher): hex = hasher.finalize().hexString
        case .sha512(let hasher): hex = hasher.finalize().hexString
        }
        // The hex of a real hash always satisfies the digest grammar.
        // swiftlint:disable:next force_try
        return try! Digest(algorithm: algorithm, hex: hex)
    }

    /// The digest of a whole byte array.
    public static func digest(of bytes: some Collection<UInt8>, algorithm: Digest.Algorithm = .sha256) -> Digest {
        var hasher = DigestHasher(algorithm)
        hasher.update(Array(bytes))
        return hasher.finalize()
    }
}

extension Sequence where Element == UInt8 {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
