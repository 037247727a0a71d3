import Foundation

/// One line per request on stdout, as Distribution's access log: the combined log format with
/// the duration and the request id after it, or a JSON object for `log.formatter: json`.
///
/// Written with one `write(2)` per line, so lines from concurrent requests never interleave.
/// It holds what a request was, never what authenticated it: no header but `User-Agent` and
/// `Referer` is read, so no `Authorization`, token or password can reach it.
struct AccessLog: Sendable {
    struct Entry {
        var remoteAddress: String
        var user: String?
        var method: String
        var uri: String
        var status: Int
        var bytes: Int?
        var referer: String?
        var userAgent: String?
        var seconds: Double
        var requestID: String
    }

    let json: Bool

    func write(_ entry: Entry) {
        var line = json ? jsonLine(entry) : combinedLine(entry)
        line.append("\n")
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(STDOUT_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 { if errno == EINTR { continue }; return }
                offset += written
            }
        }
    }

    func combinedLine(_ entry: Entry) -> String {
        let user = entry.user.map(Self.token) ?? "-"
        let bytes = entry.bytes.map(String.init) ?? "-"
        let referer = Self.quoted(entry.referer ?? "-")
        let agent = Self.quoted(entry.userAgent ?? "-")
        let request = Self.quoted("\(entry.method) \(entry.uri) HTTP/1.1")
        let duration = String(format: "%.4f", entry.seconds)
        return "\(entry.remoteAddress) - \(user) [\(Self.timestamp())] \(request) \(entry.status) \(bytes) \(referer) \(agent) \(duration) \(entry.requestID)"
    }

    func jsonLine(_ entry: Entry) -> String {
        var fields: [(String, String)] = [
            ("level", Self.jsonString("info")),
            ("msg", Self.jsonString("access")),
            ("time", Self.jsonString(ISO8601DateFormatter.string(from: Date(), timeZone: .gmt,
                                                                 formatOptions: [.withInternetDateTime, .withFractionalSeconds]))),
            ("remote_addr", Self.jsonString(entry.remoteAddress)),
            ("user", Self.jsonString(entry.user ?? "")),
            ("method", Self.jsonString(entry.method)),
            ("uri", Self.jsonString(entry.uri)),
            ("status", "\(entry.status)"),
            ("bytes", "\(entry.bytes ?? 0)"),
            ("user_agent", Self.jsonString(entry.userAgent ?? "")),
            ("duration", String(format: "%.6f", entry.seconds)),
            ("request_id", Self.jsonString(entry.requestID)),
        ]
        if let referer = entry.referer { fields.append(("referer", Self.jsonString(referer))) }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// `[02/Dec/2026:17:10:42 +0000]`'s inside, in UTC.
    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%d/%b/%Y:%H:%M:%S +0000", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A value inside double quotes, with quotes, backslashes and control bytes escaped, so a
    /// client cannot forge a line.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars.prefix(2048) {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += String(format: "\\x%02x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A user name as one field: spaces and control bytes would split or forge the line.
    static func token(_ text: String) -> String {
        let cleaned = String(text.unicodeScalars.prefix(256).map { $0.value <= 0x20 || $0.value == 0x7F ? "_" : Character($0) })
        return cleaned.isEmpty ? "-" : cleaned
    }

    static func jsonString(_ text: String) -> String {
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
