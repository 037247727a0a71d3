import Foundation
import NIOCore
import Synchronization

/// One line per request on stdout, as Distribution's access log: the combined log format with
/// the duration and the request id after it, or a JSON object for `log.formatter: json`.
///
/// Lines are formatted and written in batches by `RequestRecorder`, off the requests' path.
/// It holds what a request was, never what authenticated it: no header but `User-Agent` and
/// `Referer` is read, so no `Authorization`, token or password can reach it.
final class AccessLog: Sendable {
    struct Entry: Sendable {
        var remoteAddress: String
        var user: String?
        var method: String
        var uri: String
        var status: Int
        var bytes: Int?
        var referer: String?
        var userAgent: String?
        var nanoseconds: Int64
        var requestID: String
    }

    let json: Bool

    init(json: Bool) {
        self.json = json
    }

    /// The timestamp changes once a second; it is formatted once a second, not per request.
    private let clock = Mutex<(second: Int, text: String, iso: String)>((-1, "", ""))

    /// Appends a request's line, newline included. The text form is written as bytes straight
    /// from the record, with no intermediate strings: it runs for every request.
    func append(_ record: RequestRecord, to out: inout [UInt8]) {
        if json {
            out.append(contentsOf: jsonLine(Entry(record)).utf8)
        } else {
            appendCombined(record, to: &out)
        }
        out.append(0x0A)
    }

    /// Writes lines to stdout whole (one `write` for a batch, so lines never interleave).
    static func writeOut(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(STDOUT_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 { if errno == EINTR { continue }; return }
                offset += written
            }
        }
    }

    /// The combined log format, then the duration and the request id.
    func appendCombined(_ record: RequestRecord, to out: inout [UInt8]) {
        let head = record.head
        Self.appendClientIP(record.remoteAddress, to: &out)
        out.append(contentsOf: " - ".utf8)
        if let user = record.user { Self.appendToken(user, to: &out) } else { out.append(0x2D) }
        out.append(contentsOf: " [".utf8)
        out.append(contentsOf: now().text.utf8)
        out.append(contentsOf: "] \"".utf8)
        Self.appendEscaped(head.method.rawValue, to: &out)
        out.append(0x20)
        Self.appendEscaped(head.path ?? "", to: &out)
        out.append(contentsOf: " HTTP/1.1\" ".utf8)
        Self.appendDecimal(Int64(record.status), to: &out)
        out.append(0x20)
        if let responseSize = record.responseSize {
            Self.appendDecimal(Int64(responseSize), to: &out)
        } else {
            out.append(0x2D)
        }
        out.append(contentsOf: " \"".utf8)
        Self.appendEscaped(head.headerFields[.referer] ?? "-", to: &out)
        out.append(contentsOf: "\" \"".utf8)
        Self.appendEscaped(head.headerFields[.userAgent] ?? "-", to: &out)
        out.append(contentsOf: "\" ".utf8)
        let units = max(0, record.nanoseconds) / 100_000
        Self.appendDecimal(units / 10_000, to: &out)
        out.append(0x2E)
        Self.appendDecimal(units % 10_000, minimumDigits: 4, to: &out)
        out.append(0x20)
        Self.appendHex(record.number, to: &out)
    }

    /// Written in place, most significant digit last: no array per number (this runs several
    /// times per request).
    private static func appendDecimal(_ value: Int64, minimumDigits: Int = 1, to out: inout [UInt8]) {
        let value = max(0, value)
        var count = 1
        var shorter = value / 10
        while shorter > 0 {
            count += 1
            shorter /= 10
        }
        count = max(count, minimumDigits)
        let start = out.count
        out.append(contentsOf: repeatElement(0x30, count: count))
        var rest = value
        var index = start + count - 1
        while rest > 0 {
            out[index] = UInt8(truncatingIfNeeded: 0x30 + rest % 10)
            rest /= 10
            index -= 1
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The request id: 16 hex digits (`RegistryRequestContext.requestID`).
    private static func appendHex(_ value: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 60, through: 0, by: -4) { out.append(hexDigits[Int((value >> UInt64(shift)) & 0xF)]) }
    }

    /// The client's IP address; an IPv4 one written digit by digit (`ipAddress` goes through
    /// `inet_ntop` and a new string).
    private static func appendClientIP(_ address: SocketAddress?, to out: inout [UInt8]) {
        switch address {
        case .v4(let v4):
            let raw = UInt32(bigEndian: v4.address.sin_addr.s_addr)
            for shift in stride(from: 24, through: 0, by: -8) {
                if shift < 24 { out.append(0x2E) }
                appendDecimal(Int64((raw >> UInt32(shift)) & 0xFF), to: &out)
            }
        case .some(let other):
            out.append(contentsOf: (other.ipAddress ?? "-").utf8)
        case nil:
            out.append(0x2D)
        }
    }

    /// A value inside the double quotes of the combined format: quotes, backslashes and control
    /// bytes escaped, so a client cannot forge a line; at most 2 KiB of it.
    private static func appendEscaped(_ text: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        for byte in text.utf8.prefix(2048) {
            switch byte {
            case 0x22, 0x5C:
                out.append(0x5C)
                out.append(byte)
            case 0..<0x20, 0x7F:
                out.append(contentsOf: [0x5C, 0x78, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            default:
                out.append(byte)
            }
        }
    }

    /// A user name as one field: spaces and control bytes would split or forge the line.
    private static func appendToken(_ text: String, to out: inout [UInt8]) {
        let start = out.count
        for byte in text.utf8.prefix(256) { out.append(byte <= 0x20 || byte == 0x7F ? 0x5F : byte) }
        if out.count == start { out.append(0x2D) }
    }

    func jsonLine(_ entry: Entry) -> String {
        var fields: [(String, String)] = [
            ("level", Self.jsonString("info")),
            ("msg", Self.jsonString("access")),
            ("time", Self.jsonString(now().iso)),
            ("remote_addr", Self.jsonString(entry.remoteAddress)),
            ("user", Self.jsonString(entry.user ?? "")),
            ("method", Self.jsonString(entry.method)),
            ("uri", Self.jsonString(entry.uri)),
            ("status", "\(entry.status)"),
            ("bytes", "\(entry.bytes ?? 0)"),
            ("user_agent", Self.jsonString(entry.userAgent ?? "")),
            ("duration", Self.seconds(entry.nanoseconds, digits: 6)),
            ("request_id", Self.jsonString(entry.requestID)),
        ]
        if let referer = entry.referer { fields.append(("referer", Self.jsonString(referer))) }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// The current second as the combined format writes it (`02/Dec/2026:17:10:42 +0000`) and in
    /// ISO 8601 (`2026-12-02T17:10:42Z`), in UTC.
    private func now() -> (text: String, iso: String) {
        let second = time(nil)
        return clock.withLock { cached in
            if cached.second != second {
                cached = (second, Self.format(second, "%d/%b/%Y:%H:%M:%S +0000"), Self.format(second, "%Y-%m-%dT%H:%M:%SZ"))
            }
            return (cached.text, cached.iso)
        }
    }

    private static func format(_ second: Int, _ pattern: String) -> String {
        var time = second
        var parts = tm()
        gmtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 40)
        let count = strftime(&buffer, buffer.count, pattern, &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `nanoseconds` as seconds with `digits` decimals, without a formatter.
    static func seconds(_ nanoseconds: Int64, digits: Int) -> String {
        var scale: Int64 = 1
        for _ in 0..<(9 - digits) { scale *= 10 }
        let units = max(0, nanoseconds) / scale
        var unit: Int64 = 1
        for _ in 0..<digits { unit *= 10 }
        let fraction = String(units % unit)
        return "\(units / unit)." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    static func jsonString(_ text: String) -> String {
        if text.utf8.count <= 4096, !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            return "\"" + text + "\""
        }
        var out = "\""
        for scalar in text.unicodeScalars.prefix(4096) {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
