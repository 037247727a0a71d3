import OCI
import Testing

@Suite struct ReferenceGrammarTests {
    @Test(arguments: [
        "a", "library/busybox", "a0/b-c/d__e", "foo.bar/baz", "a--b", "x/y/z/w",
        String(repeating: "a", count: 255),
    ])
    func acceptsValidNames(_ name: String) throws {
        #expect(try RepositoryName(name).value == name)
    }

    @Test(arguments: [
        "", "..", "a/..", "../a", "A", "Abc/def", "a//b", "/a", "a/", "a_", "_a", "a...b", "a%2e%2e",
        "a b", "a:b", String(repeating: "a", count: 256), "a___b", "a.-b",
    ])
    func rejectsInvalidNames(_ name: String) {
        #expect(throws: RepositoryName.ValidationError.self) { try RepositoryName(name) }
    }

    @Test(arguments: ["latest", "v1.0.0", "_x", "A-b.c_d", String(repeating: "t", count: 128)])
    func acceptsValidTags(_ tag: String) throws {
        #expect(try Tag(tag).value == tag)
    }

    @Test(arguments: ["", ".x", "-x", "a/b", "a:b", String(repeating: "t", count: 129)])
    func rejectsInvalidTags(_ tag: String) {
        #expect(throws: Tag.ValidationError.self) { try Tag(tag) }
    }

    @Test func parsesDigests() throws {
        let hex = String(repeating: "ab", count: 32)
        let digest = try Digest("sha256:\(hex)")
        #expect(digest.algorithm == .sha256)
        #expect(digest.description == "sha256:\(hex)")
        #expect(try Digest("sha512:\(String(repeating: "0", count: 128))").algorithm == .sha512)
    }

    @Test(arguments: [
        "sha256", "sha256:", "sha256:abc", "sha256:" + String(repeating: "A", count: 64),
        "sha256:" + String(repeating: "g", count: 64), "sha256:../" + String(repeating: "a", count: 61),
        "sha512:" + String(repeating: "a", count: 64), ":abc",
    ])
    func rejectsMalformedDigests(_ text: String) {
        #expect(throws: Digest.ValidationError.self) { try Digest(text) }
    }

    @Test func unknownAlgorithmIsUnsupported() {
        #expect(throws: Digest.ValidationError.unsupportedAlgorithm("md5")) { try Digest("md5:abcd") }
    }

    @Test func hasherMatchesKnownDigest() {
        #expect(DigestHasher.digest(of: Array("{}".utf8)).description
            == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
    }

    @Test func hasherCopiesSnapshotState() {
        var first = DigestHasher()
        first.update(Array("ab".utf8))
        var second = first
        second.update(Array("c".utf8))
        first.update(Array("c".utf8))
        #expect(first.finalize() == second.finalize())
        #expect(first.finalize() == DigestHasher.digest(of: Array("abc".utf8)))
    }
}
