import Foundation
import Testing

@testable import S3

/// Cross-checks the signer against botocore's `S3SigV4Auth` and `S3SigV4QueryAuth` — the signers
/// of the AWS CLI, and so what S3 and its clones accept — through `botocore_sign.py`.
///
/// Each request goes to botocore as a raw key and query, which botocore quotes itself. The Swift
/// side signs two URLs for it: one built with ``SigV4Signer/uriEncode(_:encodeSlash:)``, which must
/// spell exactly botocore's URL, and one built by Foundation's `URLComponents`, which encodes
/// differently (`+`, `$`, `~`, `!` raw…) and must still sign the same.
///
/// Needs `python3` with botocore (Debian's `python3-botocore`); without it the test fails, saying so.
struct SigV4BotocoreTests {
    struct Item: Codable {
        var name: String
        var value: String?

        init(_ name: String, _ value: String?) {
            self.name = name
            self.value = value
        }
    }

    struct Request: Codable {
        var method: String
        var endpoint: String
        var path: String
        var query: [Item] = []
        var headers: [Item] = []
        var payloadHash = SigV4Signer.emptyPayloadHash
        var timestamp = "20130524T000000Z"
        var region = "us-east-1"
        var accessKey = "AKIAIOSFODNN7EXAMPLE"
        var secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        var sessionToken: String?
        var presignExpires: Int?
    }

    struct Result: Decodable {
        var url: String
        var canonicalRequest: String
        var stringToSign: String
        var authorization: String?
        var headers: [String: String]?
        var presignedURL: String?
    }

    static let token = "FwoGZXIvYXdzEBQaDH+session/token=="
    static let aws = "https://examplebucket.s3.amazonaws.com"
    static let rgw = "http://127.0.0.1:7480"
    static let uploadID = "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA--"

    static let requests: [Request] = [
        Request(method: "GET", endpoint: aws, path: "/photos/my holiday 2024.jpg"),
        Request(
            method: "PUT", endpoint: rgw, path: "/berth/ünïcødé/日本語 ファイル.bin",
            headers: [Item("Content-Type", "application/octet-stream"),
                      Item("x-amz-meta-note", "  padded    value  ")],
            payloadHash: SigV4Signer.payloadHash(Array("hello".utf8)), timestamp: "20260102T030405Z"),
        Request(
            method: "GET", endpoint: "https://s3.eu-west-1.amazonaws.com", path: "/bucket/a+b=c&d;e,f:g@h$i!j'k(l)m*n.txt",
            headers: [Item("Range", "bytes=0-1023")], payloadHash: SigV4Signer.unsignedPayload,
            region: "eu-west-1"),
        Request(method: "GET", endpoint: "http://localhost:9000", path: "/bucket//double//slash/./dot/../x/"),
        Request(method: "GET", endpoint: "https://minio.local:8443", path: "/bucket/~user/file~1.txt"),
        Request(
            method: "GET", endpoint: aws, path: "/",
            query: [Item("list-type", "2"),
                    Item("prefix", "docker/registry/v2/repositories/library/"),
                    Item("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM+7g=="),
                    Item("delimiter", "/"), Item("start-after", "a b~c")],
            timestamp: "20240229T235959Z"),
        Request(
            method: "POST", endpoint: rgw, path: "/berth/blobs/sha256/ab/abcdef/data",
            query: [Item("uploads", nil)],
            headers: [Item("Content-Type", "application/octet-stream")], sessionToken: token),
        Request(
            method: "PUT", endpoint: rgw, path: "/berth/blobs/sha256/ab/abcdef/data",
            query: [Item("partNumber", "3"), Item("uploadId", uploadID)],
            headers: [Item("Content-Length", "5242880"), Item("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==")],
            payloadHash: SigV4Signer.unsignedPayload),
        Request(
            method: "POST", endpoint: aws, path: "/key", query: [Item("uploadId", uploadID)],
            payloadHash: SigV4Signer.payloadHash(Array("<CompleteMultipartUpload/>".utf8)), sessionToken: token),
        Request(method: "DELETE", endpoint: rgw, path: "/berth/100% done.txt", timestamp: "19991231T235959Z"),
        Request(
            method: "HEAD", endpoint: aws, path: "/b/c",
            query: [Item("b", "2"), Item("a", "x y"), Item("a", "1")],
            headers: [Item("User-Agent", "berth/1.0"), Item("X-Amz-Meta-Upper", "MiXeD")]),
        Request(
            method: "GET", endpoint: aws, path: "/bucket/my key+ü.txt",
            query: [Item("response-content-disposition", "attachment; filename=\"a b.txt\"")],
            sessionToken: token, presignExpires: 3600),
        Request(
            method: "PUT", endpoint: rgw, path: "/berth/part",
            query: [Item("partNumber", "1"), Item("uploadId", uploadID)],
            timestamp: "20240229T235959Z", presignExpires: 900),
    ]

    @Test("botocore signs every request the same", .tags(.sigV4))
    func matchesBotocore() throws {
        let results = try Self.runBotocore(Self.requests)
        try #require(results.count == Self.requests.count)
        var respelled = 0
        for (request, expected) in zip(Self.requests, results) {
            let ours = try Self.canonicalURL(request)
            #expect(ours.absoluteString == expected.url, "our encoding of \(request.path)")
            if try Self.foundationURL(request) != ours { respelled += 1 }
            let signer = SigV4Signer(
                credentials: AWSCredentials(
                    accessKey: request.accessKey, secretKey: request.secretKey, sessionToken: request.sessionToken),
                region: request.region)
            let date = try Self.date(request.timestamp)
            for url in [ours, try Self.foundationURL(request)] {
                if let expires = request.presignExpires {
                    let presigned = signer.presign(method: request.method, url: url, expires: expires, date: date)
                    #expect(presigned.canonicalRequest == expected.canonicalRequest, "\(url)")
                    #expect(presigned.stringToSign == expected.stringToSign, "\(url)")
                    #expect(presigned.url.absoluteString == expected.presignedURL, "\(url)")
                } else {
                    let signed = signer.headerSignature(
                        method: request.method, url: url,
                        headers: request.headers.map { ($0.name, $0.value ?? "") },
                        payloadHash: request.payloadHash, date: date)
                    #expect(signed.canonicalRequest == expected.canonicalRequest, "\(url)")
                    #expect(signed.stringToSign == expected.stringToSign, "\(url)")
                    #expect(signed.authorization == expected.authorization, "\(url)")
                    var ours: [String: String] = [:]
                    for (name, value) in signed.headers where name != "Authorization" { ours[name] = value }
                    #expect(ours == expected.headers, "\(url)")
                }
            }
        }
        // Foundation spells the reserved characters of the key (`+ = & ; , : @ $ ! ' ( ) *`) and of
        // the query (`/ + = ; "`) differently from botocore; were it not to, its half would be idle.
        #expect(respelled >= 3)
    }

    /// The URL as the S3 client should build it, with ``SigV4Signer/uriEncode(_:encodeSlash:)``.
    static func canonicalURL(_ request: Request) throws -> URL {
        var text = request.endpoint + SigV4Signer.uriEncode(request.path, encodeSlash: false)
        let query = request.query.map { item -> String in
            let name = SigV4Signer.uriEncode(item.name)
            guard let value = item.value else { return name }
            return "\(name)=\(SigV4Signer.uriEncode(value))"
        }
        if !query.isEmpty { text += "?" + query.joined(separator: "&") }
        return try #require(URL(string: text))
    }

    /// The same URL as Foundation encodes it.
    static func foundationURL(_ request: Request) throws -> URL {
        var components = try #require(URLComponents(string: request.endpoint))
        components.path = request.path
        if !request.query.isEmpty {
            components.queryItems = request.query.map { URLQueryItem(name: $0.name, value: $0.value) }
        }
        return try #require(components.url)
    }

    static func date(_ timestamp: String) throws -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return try #require(formatter.date(from: timestamp))
    }

    /// Runs `botocore_sign.py` (beside this file) with the first Python 3 that can import botocore.
    static func runBotocore(_ requests: [Request]) throws -> [Result] {
        let script = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "botocore_sign.py")
        let candidates = [["/usr/bin/env", "python3"], ["/usr/bin/python3"]]
        guard let python = candidates.first(where: { (try? run($0 + ["-c", "import botocore"]).status) == 0 }) else {
            let message = "botocore cross-check: no python3 can import botocore (tried `python3` on PATH and "
                + "/usr/bin/python3); install Debian's python3-botocore: apt-get install -y python3-botocore"
            Issue.record("\(message)")
            return []
        }
        let output = try run(python + [script.path], input: JSONEncoder().encode(requests))
        guard output.status == 0 else {
            Issue.record("botocore_sign.py exited \(output.status): \(String(decoding: output.stderr, as: UTF8.self))")
            return []
        }
        return try JSONDecoder().decode([Result].self, from: output.stdout)
    }

    static func run(_ arguments: [String], input: Data = Data()) throws -> (status: Int32, stdout: Data, stderr: Data) {
        let process = Process()
        process.executableURL = URL(filePath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // The input is a few kilobytes, under a pipe's buffer, so writing it all first cannot block.
        try stdin.fileHandleForWriting.write(contentsOf: input)
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, out, err)
    }
}
