import Foundation
import Testing

@testable import S3

/// The signer's S3-specific rules, each on its own.
struct SigV4SignerTests {
    let signer = SigV4Signer(
        credentials: AWSCredentials(accessKey: "AKID", secretKey: "SECRET", sessionToken: "TOKEN/with+base64=="),
        region: "us-east-1")
    let date = Date(timeIntervalSince1970: 1_369_353_600)

    func canonicalURI(_ text: String) throws -> String {
        SigV4Signer.canonicalURI(try #require(URL(string: text)))
    }

    /// The paths of the suite's `normalize-path` cases, which S3 signs as they are.
    @Test(
        "paths are not normalised", .tags(.sigV4),
        arguments: [
            "/example/..", "/example1/example2/../..", "/", "/./", "/example/.", "//example//",
            "/a//b/./c/../d/", "/./.././",
        ])
    func pathsAreSignedAsTheyAre(path: String) throws {
        #expect(try canonicalURI("https://s3.example.com\(path)") == path)
    }

    @Test("a path is encoded exactly once, however the URL spelled it", .tags(.sigV4))
    func pathEncoding() throws {
        #expect(try canonicalURI("https://h") == "/")
        #expect(try canonicalURI("https://h/a%20b/c%2Bd+e") == "/a%20b/c%2Bd%2Be")
        #expect(try canonicalURI("https://h/%7Euser/~x") == "/~user/~x")
        #expect(try canonicalURI("https://h/%e1%88%b4/%E1%88%B4") == "/%E1%88%B4/%E1%88%B4")
        #expect(try canonicalURI("https://h/a%2Fb") == "/a/b")
        #expect(try canonicalURI("https://h/100%25") == "/100%25")
        // A `%` that starts no escape is a literal percent sign.
        #expect(SigV4Encoding.recode("/50%zz%4".utf8, keepingSlash: true) == "/50%25zz%254")
        #expect(try canonicalURI("https://h/!$&'()*,;=:@") == "/%21%24%26%27%28%29%2A%2C%3B%3D%3A%40")
    }

    @Test("the query: RFC 3986 encoding, sorted, bare keys get `=`", .tags(.sigV4))
    func queryEncoding() {
        let pairs = SigV4Encoding.canonicalQueryPairs("b=2&a=x%20y&a=1&uploads&c=d+e&t=%7E~&s=a=b&&")
        #expect(
            SigV4Encoding.joinQuery(SigV4Encoding.sorted(pairs))
                == "a=1&a=x%20y&b=2&c=d%2Be&s=a%3Db&t=~~&uploads=")
    }

    @Test("uriEncode is AWS's UriEncode()", .tags(.sigV4))
    func uriEncode() {
        #expect(SigV4Signer.uriEncode("a b/c~d+é") == "a%20b%2Fc~d%2B%C3%A9")
        #expect(SigV4Signer.uriEncode("/bucket/a b/ü.png", encodeSlash: false) == "/bucket/a%20b/%C3%BC.png")
        #expect(SigV4Signer.uriEncode("-._~AZaz09") == "-._~AZaz09")
    }

    @Test(
        "the host header carries a port only when it is not the default", .tags(.sigV4),
        arguments: [
            ("http://127.0.0.1:7480/b", "127.0.0.1:7480"), ("https://s3.example.com:443/b", "s3.example.com"),
            ("http://minio:80/b", "minio"), ("http://minio:443/b", "minio:443"), ("https://h:8443", "h:8443"),
            ("https://s3.amazonaws.com/b", "s3.amazonaws.com"), ("http://[::1]:9000/b", "[::1]:9000"),
        ])
    func hostHeader(url: String, host: String) throws {
        #expect(SigV4Signer.hostHeader(for: try #require(URL(string: url))) == host)
    }

    @Test("x-amz-date is the UTC basic-format time", .tags(.sigV4))
    func amzDate() {
        #expect(SigV4Encoding.amzDate(Date(timeIntervalSince1970: 1_440_938_160)) == "20150830T123600Z")
        #expect(SigV4Encoding.amzDate(Date(timeIntervalSince1970: 1_709_251_199.999)) == "20240229T235959Z")
        #expect(SigV4Encoding.amzDate(Date(timeIntervalSince1970: 946_684_799)) == "19991231T235959Z")
        #expect(SigV4Encoding.amzDate(Date(timeIntervalSince1970: 951_782_400)) == "20000229T000000Z")
        #expect(SigV4Encoding.amzDate(Date(timeIntervalSince1970: 0)) == "19700101T000000Z")
        #expect(SigV4Encoding.amzDate(Date(timeIntervalSince1970: -1)) == "19691231T235959Z")
        #expect(SigV4Encoding.amzDate(Date(timeIntervalSince1970: 4_102_444_800)) == "21000101T000000Z")
    }

    @Test("header values are trimmed and inner whitespace collapsed", .tags(.sigV4))
    func trimAll() {
        #expect(SigV4Encoding.trimAll("  a   b \t c\n  d  ") == "a b c d")
        #expect(SigV4Encoding.trimAll("\"a   b\"") == "\"a b\"")
        #expect(SigV4Encoding.trimAll("   ") == "")
        #expect(SigV4Encoding.trimAll("ü  ß") == "ü ß")
    }

    @Test("the session token is added and signed; the signer's own headers replace the caller's", .tags(.sigV4))
    func ownedHeaders() throws {
        let url = try #require(URL(string: "https://b.s3.amazonaws.com/k"))
        let signed = signer.headerSignature(
            method: "get", url: url,
            headers: [
                ("X-Amz-Date", "19990101T000000Z"), ("Authorization", "stale"),
                ("x-amz-security-token", "old"), ("User-Agent", "berth"),
                ("Expect", "100-continue"), (" X-Amz-Meta-A ", " 1 "),
            ],
            payloadHash: SigV4Signer.unsignedPayload, date: date)
        #expect(
            signed.canonicalRequest == """
                GET
                /k

                host:b.s3.amazonaws.com
                x-amz-content-sha256:UNSIGNED-PAYLOAD
                x-amz-date:20130524T000000Z
                x-amz-meta-a:1
                x-amz-security-token:TOKEN/with+base64==

                host;x-amz-content-sha256;x-amz-date;x-amz-meta-a;x-amz-security-token
                UNSIGNED-PAYLOAD
                """)
        #expect(signed.headers.map { $0.0 } == ["x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "Authorization"])
        #expect(header(signed.headers, "x-amz-security-token") == "TOKEN/with+base64==")
    }

    @Test("a Host header given by the caller is the one signed", .tags(.sigV4))
    func callerHost() throws {
        let url = try #require(URL(string: "http://127.0.0.1:7480/b/k"))
        let signed = signer.headerSignature(
            method: "GET", url: url, headers: [("Host", "s3.internal:7480")],
            payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(signed.canonicalRequest.contains("\nhost:s3.internal:7480\n"))
    }

    @Test("presigning adds the token and keeps the URL's own parameters first", .tags(.sigV4))
    func presignWithToken() throws {
        let url = try #require(URL(string: "http://127.0.0.1:7480/b/my%20key?versionId=v%2B1"))
        let presigned = signer.presign(method: "GET", url: url, expires: 60, date: date)
        let text = presigned.url.absoluteString
        #expect(text.hasPrefix("http://127.0.0.1:7480/b/my%20key?versionId=v%2B1&X-Amz-Algorithm=AWS4-HMAC-SHA256&"))
        #expect(text.contains("&X-Amz-SignedHeaders=host&X-Amz-Security-Token=TOKEN%2Fwith%2Bbase64%3D%3D&X-Amz-Signature="))
        #expect(presigned.canonicalRequest.contains("\nhost:127.0.0.1:7480\n\nhost\nUNSIGNED-PAYLOAD"))
    }

    @Test("descriptions never show the secret", .tags(.sigV4))
    func redaction() {
        let text = "\(signer.credentials) \(String(reflecting: signer.credentials))"
        #expect(text.contains("AKID"))
        #expect(!text.contains("SECRET"))
        #expect(!text.contains("TOKEN"))
    }
}
