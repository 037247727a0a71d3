import Foundation
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

    /// Appends the entry's line, newline included. The text form is built as bytes, with no
    /// intermediate strings.
    func append(_ entry: Entry, to out: inout [UInt8]) {
        if json { out.append(contentsOf: jsonLine(entry).utf8) } else { out.append(contentsOf: combinedBytes(entry)) }
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

    func combinedBytes(_ entry: Entry) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + entry.uri.utf8.count + (entry.userAgent?.utf8.count ?? 0))
        out.append(contentsOf: entry.remoteAddress.utf8)
        out.append(contentsOf: " - ".utf8)
        if let user = entry.user { Self.appendToken(user, to: &out) } else { out.append(0x2D) }
        out.append(contentsOf: " [".utf8)
        out.append(contentsOf: now().text.utf8)
        out.append(contentsOf: "] \"".utf8)
        Self.appendEscaped(entry.method, to: &out)
        out.append(0x20)
        Self.appendEscaped(entry.uri, to: &out)
        out.append(contentsOf: " HTTP/1.1\" ".utf8)
        out.append(contentsOf: String(entry.status).utf8)
        out.append(0x20)
        if let bytes = entry.bytes { out.append(contentsOf: String(bytes).utf8) } else { out.append(0x2D) }
        out.append(contentsOf: " \"".utf8)
        Self.appendEscaped(entry.referer ?? "-", to: &out)
        out.append(contentsOf: "\" \"".utf8)
        Self.appendEscaped(entry.userAgent ?? "-", to: &out)
        out.append(contentsOf: "\" ".utf8)
        out.append(contentsOf: Self.seconds(entry.nanoseconds, digits: 4).utf8)
        out.append(0x20)
        out.append(contentsOf: entry.requestID.utf8)
        return out
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
