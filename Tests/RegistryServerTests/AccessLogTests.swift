import HTTPTypes
import NIOCore
@testable import RegistryServer
import Testing

/// The combined access-log line, written byte by byte from a request's record: addresses,
/// numbers (zero-padded where the format wants it) and the request id.
@Suite struct AccessLogTests {
    @Test func aCombinedLineCarriesEveryField() throws {
        var head = HTTPRequest(method: .get, scheme: "http", authority: "registry", path: "/v2/team/app/manifests/1")
        head.headerFields[.userAgent] = "skopeo/1.9 \"quoted\""
        let record = RequestRecord(handler: .manifest, head: head, status: 200, responseSize: 1_234_567_890_123,
                                   nanoseconds: 3_000_456_789, remoteAddress: try SocketAddress(ipAddress: "10.0.255.7", port: 40_000),
                                   user: "alice", number: 0x00ab_cdef_0123_4567)
        var out: [UInt8] = []
        AccessLog(json: false).append(record, to: &out)
        let line = String(decoding: out, as: UTF8.self)
        #expect(line.hasPrefix("10.0.255.7 - alice ["))
        #expect(line.hasSuffix("] \"GET /v2/team/app/manifests/1 HTTP/1.1\" 200 1234567890123 \"-\" \"skopeo/1.9 \\\"quoted\\\"\" 3.0004 00abcdef01234567\n"))

        let quick = RequestRecord(handler: .base, head: HTTPRequest(method: .head, scheme: "http", authority: "r", path: "/v2/"),
                                  status: 404, responseSize: nil, nanoseconds: 7_000, remoteAddress: nil, user: nil, number: 1)
        out = []
        AccessLog(json: false).append(quick, to: &out)
        #expect(String(decoding: out, as: UTF8.self).hasSuffix("\"HEAD /v2/ HTTP/1.1\" 404 - \"-\" \"-\" 0.0000 0000000000000001\n"))
        #expect(String(decoding: out, as: UTF8.self).hasPrefix("- - - ["))
    }
}
