@testable import OCI
import Testing

/// ImageReference parsing follows distribution/reference's normalisation.
@Suite struct ImageReferenceTests {
    static let valid: [(String, String, String, String?, String?)] = [
        // input, host, repository, tag, digest
        ("busybox", "docker.io", "library/busybox", "latest", nil),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", nil),
        ("library/busybox", "docker.io", "library/busybox", "latest", nil),
        ("docker.io/busybox", "docker.io", "library/busybox", "latest", nil),
        ("index.docker.io/library/busybox:x", "docker.io", "library/busybox", "x", nil),
        ("user/app", "docker.io", "user/app", "latest", nil),
        ("localhost/app", "localhost", "app", "latest", nil),
        ("localhost:5000/app:1.0", "localhost:5000", "app", "1.0", nil),
        ("127.0.0.1:5000/a/b/c:tag", "127.0.0.1:5000", "a/b/c", "tag", nil),
        ("registry.example.com/team/app:v1", "registry.example.com", "team/app", "v1", nil),
        ("Example.com/app", "Example.com", "app", "latest", nil),
        ("[::1]:5000/app", "[::1]:5000", "app", "latest", nil),
        ("reg.io/a_b/c__d/e-f/g--h/i.j:T_a.g-9", "reg.io", "a_b/c__d/e-f/g--h/i.j", "T_a.g-9", nil),
        ("reg.io/app@sha256:" + String(repeating: "a", count: 64), "reg.io", "app", nil,
         "sha256:" + String(repeating: "a", count: 64)),
        ("reg.io:443/app:1@sha256:" + String(repeating: "b", count: 64), "reg.io:443", "app", "1",
         "sha256:" + String(repeating: "b", count: 64)),
    ]

    @Test(arguments: valid)
    func parses(_ row: (String, String, String, String?, String?)) throws {
        let ref = try ImageReference(parsing: row.0)
        #expect(ref.host == row.1)
        #expect(ref.repository.value == row.2)
        #expect(ref.tag?.value == row.3)
        #expect(ref.digest?.description == row.4)
    }

    static let invalid: [String] = [
        "", ":tag", "UPPER", "app:", "app:-bad", "app:" + String(repeating: "t", count: 129),
        "reg.io/app@sha256:abc", "reg.io/app@md5:" + String(repeating: "a", count: 32),
        "reg.io/-app", "reg.io/app-", "reg.io/a..b", "reg.io/a___b", "reg.io//app", "reg.io/app/",
        "-reg.io/app", "reg.io:port/app", "reg.io/app:tag:tag", "localhost/Upper",
        "reg.io/" + String(repeating: "a", count: 256),
    ]

    @Test(arguments: invalid)
    func rejects(_ input: String) {
        #expect(throws: ImageReference.ValidationError.self) { try ImageReference(parsing: input) }
    }

    @Test func uppercaseRepositoryMessage() {
        #expect(throws: ImageReference.ValidationError.uppercase("Upper")) { try ImageReference(parsing: "localhost/Upper") }
    }

    @Test(arguments: [
        ("busybox", "docker.io/library/busybox:latest"),
        ("localhost:5000/a:1", "localhost:5000/a:1"),
        ("r.io/a@sha256:" + String(repeating: "c", count: 64), "r.io/a@sha256:" + String(repeating: "c", count: 64)),
    ])
    func normalisedDescription(_ input: String, _ expected: String) throws {
        #expect(try ImageReference(parsing: input).description == expected)
    }

    @Test func manifestReferencePrefersTheDigest() throws {
        let digest = "sha256:" + String(repeating: "d", count: 64)
        #expect(try ImageReference(parsing: "r.io/a:1@" + digest).manifestReference.description == digest)
        #expect(try ImageReference(parsing: "r.io/a").manifestReference.description == "latest")
    }

    @Test func dockerHubAPIHost() throws {
        #expect(try ImageReference(parsing: "busybox").apiHost == "registry-1.docker.io")
        #expect(try ImageReference(parsing: "localhost:5000/x").apiHost == "localhost:5000")
    }

    @Test func digestValidation() throws {
        let d = try Digest("sha256:" + String(repeating: "0", count: 64))
        #expect(d.short == "000000000000")
        #expect(throws: ImageReference.ValidationError.invalidDigest("sha256:" + String(repeating: "A", count: 64))) {
            try ImageReference(parsing: "app@sha256:" + String(repeating: "A", count: 64))
        }
        #expect(throws: Digest.ValidationError.self) { try Digest("sha256:../../etc/passwd") }
        #expect(DigestHasher.digest(of: Array("".utf8)).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test(arguments: [("linux/amd64", "linux", "amd64", nil), ("linux/arm64/v8", "linux", "arm64", "v8")])
    func platform(_ text: String, _ os: String, _ arch: String, _ variant: String?) throws {
        let p = try #require(Platform(parsing: text))
        #expect(p.os == os && p.architecture == arch && p.variant == variant)
    }

    @Test func platformMatchingIgnoresMissingVariant() {
        let wanted = Platform(os: "linux", architecture: "arm64", variant: "v8")
        #expect(wanted.matches(Platform(os: "linux", architecture: "arm64")))
        #expect(!wanted.matches(Platform(os: "linux", architecture: "amd64")))
        #expect(!wanted.matches(Platform(os: "linux", architecture: "arm64", variant: "v9")))
    }
}
