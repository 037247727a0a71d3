import Foundation
import Testing

@testable import S3

/// The worked examples of Amazon S3's SigV4 documentation, with the figures published there:
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html> ("Examples:
/// Signature Calculations") and
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html> (presigned GET).
struct SigV4S3ExampleTests {
    let signer = SigV4Signer(
        credentials: AWSCredentials(
            accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1")
    let date = Date(timeIntervalSince1970: 1_369_353_600)  // 20130524T000000Z
    let scope = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"

    func stringToSign(_ canonicalRequestHash: String) -> String {
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\(canonicalRequestHash)"
    }

    @Test("GET Object with Range", .tags(.sigV4))
    func getObject() throws {
        let signed = signer.headerSignature(
            method: "GET", url: try #require(URL(string: "https://examplebucket.s3.amazonaws.com/test.txt")),
            headers: [("Range", "bytes=0-9")], payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(
            signed.canonicalRequest == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """)
        #expect(signed.stringToSign == stringToSign("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"))
        #expect(signed.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=\(scope), SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(header(signed.headers, "x-amz-date") == "20130524T000000Z")
        #expect(header(signed.headers, "x-amz-content-sha256") == SigV4Signer.emptyPayloadHash)
        #expect(header(signed.headers, "Authorization") == signed.authorization)
        #expect(header(signed.headers, "x-amz-security-token") == nil)
    }

    @Test("PUT Object: `$` in the key, a Date header, a signed body", .tags(.sigV4))
    func putObject() throws {
        let body = Array("Welcome to Amazon S3.".utf8)
        let payloadHash = SigV4Signer.payloadHash(body)
        #expect(payloadHash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let signed = signer.headerSignature(
            method: "PUT", url: try #require(URL(string: "https://examplebucket.s3.amazonaws.com/test$file.text")),
            headers: [
                ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            payloadHash: payloadHash, date: date)
        #expect(signed.canonicalRequest.hasPrefix("PUT\n/test%24file.text\n\n"))
        #expect(signed.stringToSign == stringToSign("9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"))
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=\(scope), "
                + "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
                + "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("GET Bucket Lifecycle: a sub-resource without a value", .tags(.sigV4))
    func getBucketLifecycle() throws {
        let signed = signer.headerSignature(
            method: "GET", url: try #require(URL(string: "https://examplebucket.s3.amazonaws.com/?lifecycle")),
            headers: [], payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(signed.canonicalRequest.hasPrefix("GET\n/\nlifecycle=\n"))
        #expect(signed.stringToSign == stringToSign("9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca"))
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=\(scope), SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                + "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test(
        "GET Bucket (List Objects): the query is sorted", .tags(.sigV4),
        arguments: ["?max-keys=2&prefix=J", "?prefix=J&max-keys=2"])
    func listObjects(query: String) throws {
        let signed = signer.headerSignature(
            method: "GET", url: try #require(URL(string: "https://examplebucket.s3.amazonaws.com/\(query)")),
            headers: [], payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(signed.canonicalRequest.hasPrefix("GET\n/\nmax-keys=2&prefix=J\n"))
        #expect(signed.stringToSign == stringToSign("df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7"))
        #expect(signed.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test("presigned GET Object, valid for a day", .tags(.sigV4))
    func presignedGet() throws {
        let url = try #require(URL(string: "https://examplebucket.s3.amazonaws.com/test.txt"))
        let presigned = signer.presign(method: "GET", url: url, expires: 86400, date: date)
        let query =
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        #expect(
            presigned.canonicalRequest
                == "GET\n/test.txt\n\(query)\nhost:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD")
        #expect(presigned.stringToSign == stringToSign("3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"))
        let expected =
            "https://examplebucket.s3.amazonaws.com/test.txt?\(query)"
            + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        #expect(presigned.url.absoluteString == expected)
        #expect(signer.presignedURL(method: "GET", url: url, expires: 86400, date: date).absoluteString == expected)
    }

    @Test("the public sign() returns the documented headers", .tags(.sigV4))
    func publicSign() throws {
        let headers = signer.sign(
            method: "GET", url: try #require(URL(string: "https://examplebucket.s3.amazonaws.com/test.txt")),
            headers: [("Range", "bytes=0-9")], payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(headers.map { $0.0 } == ["x-amz-date", "x-amz-content-sha256", "Authorization"])
        #expect(header(headers, "authorization")?.hasSuffix(
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") == true)
    }
}
