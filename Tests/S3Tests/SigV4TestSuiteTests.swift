import Foundation
import Testing

@testable import S3

/// AWS's published SigV4 test suite ("aws-sig-v4-test-suite"), as botocore keeps it in
/// `tests/unit/auth/aws4_testsuite` (github.com/boto/botocore). Each case directory under
/// `SigV4TestSuite/` holds the request (`.req`), the canonical request (`.creq`), the string to
/// sign (`.sts`), the `Authorization` value (`.authz`) and the signed request (`.sreq`). All use
/// AKIDEXAMPLE, region us-east-1, service `service` and 20150830T123600Z.
struct SigV4TestSuiteTests {
    /// The cases that apply to a signer that does not normalise paths (S3 style).
    ///
    /// Left out, and not copied:
    /// - `normalize-path/get-relative`, `get-relative-relative`, `get-slash`, `get-slash-dot-slash`,
    ///   `get-slash-pointless-dot`, `get-slashes`: their canonical path is the normalised one
    ///   (`//example//` signs as `/example/`), but S3 signs the path as it is — a key may hold
    ///   `//` or `.` — and so do botocore's S3 signers. `SigV4SignerTests` checks that instead.
    /// - `post-sts-token/post-sts-header-after`: the token is added after signing and left
    ///   unsigned, as STS-style services allow; S3 (and botocore's S3 signer) signs it, which
    ///   `post-sts-header-before` and `get-vanilla-with-session-token` cover.
    ///
    /// Kept from `normalize-path/`: `get-space` and `get-special-character`, which normalise
    /// nothing (they check that a space and `$` are encoded once), flattened to the top level here.
    static let cases = [
        "get-header-key-duplicate", "get-header-value-multiline", "get-header-value-order",
        "get-header-value-trim", "get-space", "get-special-character", "get-unreserved", "get-utf8",
        "get-vanilla", "get-vanilla-empty-query-key", "get-vanilla-query",
        "get-vanilla-query-order-encoded", "get-vanilla-query-order-key", "get-vanilla-query-order-key-case",
        "get-vanilla-query-order-value", "get-vanilla-query-unreserved", "get-vanilla-utf8-query",
        "get-vanilla-with-session-token", "post-header-key-case", "post-header-key-sort",
        "post-header-value-case", "post-sts-header-before", "post-vanilla", "post-vanilla-empty-query-value",
        "post-vanilla-query", "post-x-www-form-urlencoded", "post-x-www-form-urlencoded-parameters",
    ]

    static let date = Date(timeIntervalSince1970: 1_440_938_160)  // 20150830T123600Z

    static var suiteDirectory: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "SigV4TestSuite", withExtension: nil))
        }
    }

    static func read(_ name: String, _ ext: String) throws -> String {
        let file = try suiteDirectory.appending(path: name).appending(path: "\(name).\(ext)")
        return String(decoding: try Data(contentsOf: file), as: UTF8.self)
    }

    @Test("every copied case is run, and only those", .tags(.sigV4))
    func copiedCasesAreTheListedOnes() throws {
        let copied = try FileManager.default.contentsOfDirectory(atPath: Self.suiteDirectory.path)
        #expect(Set(copied) == Set(Self.cases))
    }

    @Test("AWS SigV4 test suite", .tags(.sigV4), arguments: cases)
    func suiteCase(_ name: String) throws {
        var request = try SuiteRequest(parsing: Self.read(name, "req"))
        // The suite's session-token cases show the token in the signed request (.sreq); the
        // signer adds that header itself, so it moves from the headers to the credentials.
        let signedRequest = try SuiteRequest(parsing: Self.read(name, "sreq"))
        let token = header(signedRequest.headers, "x-amz-security-token")
        request.headers.removeAll { $0.0.lowercased() == "x-amz-security-token" }

        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: token),
            region: "us-east-1", service: "service")
        let signed = signer.headerSignature(
            method: request.method, url: try request.url(), headers: request.headers,
            payloadHash: SigV4Signer.payloadHash(Array(request.body.utf8)), date: Self.date,
            includeContentSHA256: false)

        #expect(signed.canonicalRequest == (try Self.read(name, "creq")))
        #expect(signed.stringToSign == (try Self.read(name, "sts")))
        #expect(signed.authorization == (try Self.read(name, "authz")))
        #expect(header(signed.headers, "x-amz-date") == "20150830T123600Z")
        #expect(header(signed.headers, "x-amz-security-token") == token)
    }
}

/// A request in the suite's `.req` form: request line, headers (a line that starts with
/// whitespace continues the previous header's value), a blank line, the body.
struct SuiteRequest {
    var method: String
    var target: String
    var headers: [(String, String)] = []
    var body = ""

    init(parsing text: String) throws {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)[...]
        let popped = lines.popFirst()
        let requestLine = try #require(popped)
        let first = try #require(requestLine.firstIndex(of: " "))
        let last = try #require(requestLine.lastIndex(of: " "))
        method = String(requestLine[..<first])
        target = String(requestLine[requestLine.index(after: first)..<last])  // may hold spaces
        while let line = lines.popFirst() {
            if line.isEmpty {
                body = lines.joined(separator: "\n")
                break
            }
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].1 += "\n" + line
                continue
            }
            let colon = try #require(line.firstIndex(of: ":"))
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
    }

    /// `https://<Host header><target>`, with the bytes a URL cannot hold raw (space, non-ASCII,
    /// quotes…) percent-encoded and existing escapes left alone, as an HTTP client would send it.
    func url() throws -> URL {
        let host = try #require(header(headers, "host"))
        var text = "https://\(host.trimmingCharacters(in: .whitespaces))"
        for byte in target.utf8 {
            if byte <= 0x20 || byte >= 0x7F || Array(#""<>\^`{|}"#.utf8).contains(byte) {
                text += String(format: "%%%02X", byte)
            } else {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return try #require(URL(string: text))
    }
}

/// The value of the first header called `name` (in any case).
func header(_ headers: [(String, String)], _ name: String) -> String? {
    headers.first { $0.0.lowercased() == name.lowercased() }?.1
}

extension Tag {
    @Tag static var sigV4: Self
}
