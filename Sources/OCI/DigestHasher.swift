import CDigestState

/// Computes a `Digest` incrementally over a stream.
///
/// A value type: copying it snapshots the state, which lets an upload roll back a chunk that failed
/// half-way without rehashing what came before. Its state can be saved (`savedState`) and carried
/// on from later (`init(savedState:)`), in another process or on another node: an upload's
/// digest never needs its bytes read back. OpenSSL's contexts make that possible (swift-crypto
/// keeps its state sealed); both run the same SHA-NI/AVX2 code at the same speed.
public struct DigestHasher: Sendable {
    private enum State: @unchecked Sendable {
        // Plain C structs, copied by value: nothing in them is shared.
        case sha256(SHA256_CTX)
        case sha512(SHA512_CTX)
    }

    private var state: State
    public let algorithm: Digest.Algorithm

    public init(_ algorithm: Digest.Algorithm = .sha256) {
        self.algorithm = algorithm
        switch algorithm {
        case .sha256:
            var context = SHA256_CTX()
            berth_sha256_init(&context)
            state = .sha256(context)
        case .sha512:
            var context = SHA512_CTX()
            berth_sha512_init(&context)
            state = .sha512(context)
        }
    }

    /// Carries on from a state `savedState` returned; nil when the bytes are not one.
    public init?(savedState bytes: [UInt8]) {
        guard bytes.count >= 2 else { return nil }
        let imported: Int32
        switch bytes[1] {
        case 1:
            var context = SHA256_CTX()
            imported = berth_sha256_import(&context, bytes, bytes.count)
            state = .sha256(context)
            algorithm = .sha256
        case 2:
            var context = SHA512_CTX()
            imported = berth_sha512_import(&context, bytes, bytes.count)
            state = .sha512(context)
            algorithm = .sha512
        default:
            return nil
        }
        guard imported == 0 else { return nil }
    }

    /// The running state, independent of byte order and of OpenSSL's struct layout (at most
    /// about 210 bytes).
    public var savedState: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Int(BERTH_DIGEST_STATE_MAX)) { buffer, count in
            switch state {
            case .sha256(var context): count = berth_sha256_export(&context, buffer.baseAddress)
            case .sha512(var context): count = berth_sha512_export(&context, buffer.baseAddress)
            }
        }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        switch state {
        case .sha256(var context):
            berth_sha256_update(&context, bytes.baseAddress, bytes.count)
            state = .sha256(context)
        case .sha512(var context):
            berth_sha512_update(&context, bytes.baseAddress, bytes.count)
            state = .sha512(context)
        }
    }

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    public func finalize() -> Digest {
        let hex: String
        switch state {
        case .sha256(var context):
            var out = [UInt8](repeating: 0, count: 32)
            berth_sha256_final(&context, &out)
            hex = out.hexString
        case .sha512(var context):
            var out = [UInt8](repeating: 0, count: 64)
            berth_sha512_final(&context, &out)
            hex = out.hexString
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
