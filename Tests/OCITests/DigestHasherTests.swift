import Foundation
import struct Crypto.SHA256
import struct Crypto.SHA512
import OCI
import Testing

/// DigestHasher runs on OpenSSL's contexts so its state can be saved; swift-crypto is the
/// reference its digests are checked against.
@Suite struct DigestHasherTests {
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = seed
        return (0..<count).map { _ in
            generator = generator &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: generator >> 33)
        }
    }

    static func reference(_ data: [UInt8], _ algorithm: OCI.Digest.Algorithm) -> String {
        switch algorithm {
        case .sha256: SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        case .sha512: SHA512.hash(data: data).map { String(format: "%02x", $0) }.joined()
        }
    }

    /// Lengths around every block boundary of both algorithms (64 and 128 bytes, and the
    /// 55/56 and 111/112 points where the length no longer fits the last block).
    static let lengths = [0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 1000, (1 << 20) + 3]

    @Test(arguments: lengths, [OCI.Digest.Algorithm.sha256, .sha512])
    func matchesSwiftCrypto(length: Int, algorithm: OCI.Digest.Algorithm) {
        let data = Self.bytes(length, seed: UInt64(length))
        var hasher = DigestHasher(algorithm)
        hasher.update(data)
        #expect(hasher.finalize().hex == Self.reference(data, algorithm))
    }

    @Test(arguments: lengths, [OCI.Digest.Algorithm.sha256, .sha512])
    func savedStateCarriesOnAtAnySplit(length: Int, algorithm: OCI.Digest.Algorithm) throws {
        let data = Self.bytes(length, seed: 7)
        for split in Set([0, length / 3, length / 2, max(0, length - 1), length]) {
            var first = DigestHasher(algorithm)
            data[..<split].withUnsafeBytes { first.update($0) }
            let saved = first.savedState
            var second = try #require(DigestHasher(savedState: saved))
            #expect(second.algorithm == algorithm)
            data[split...].withUnsafeBytes { second.update($0) }
            #expect(second.finalize().hex == Self.reference(data, algorithm), "split at \(split)")
        }
    }

    @Test func savedStateIsSmall() {
        var hasher = DigestHasher(.sha512)
        hasher.update(Self.bytes(127, seed: 1))
        #expect(hasher.savedState.count <= 2 + 64 + 16 + 1 + 127)
    }

    @Test func damagedStatesAreRefused() {
        var hasher = DigestHasher(.sha256)
        hasher.update(Self.bytes(100, seed: 3))
        let saved = hasher.savedState
        #expect(DigestHasher(savedState: []) == nil)
        #expect(DigestHasher(savedState: Array(saved.dropLast())) == nil)
        var version = saved
        version[0] = 9
        #expect(DigestHasher(savedState: version) == nil)
        var algorithm = saved
        algorithm[1] = 3
        #expect(DigestHasher(savedState: algorithm) == nil)
        // The bit count says 100 bytes (36 buffered); claim 37 buffered bytes.
        var count = saved
        count[2 + 32 + 8] = 37
        count.append(0)
        #expect(DigestHasher(savedState: count) == nil)
    }
}
