import Foundation

/// The byte-level pieces of AWS Signature Version 4 canonicalisation: URI encoding, whitespace
/// trimming, hex and the `x-amz-date` timestamp.
///
/// Everything here works on UTF-8 bytes and builds its output in one reserved buffer, because a
/// signer runs once per request and the inputs (paths, query strings, header values) are short.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>.
enum SigV4Encoding {
    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)
    private static let lowerHexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Whether `byte` is an RFC 3986 unreserved character (`A-Z a-z 0-9 - . _ ~`), the only bytes
    /// SigV4's `UriEncode()` leaves alone.
    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Appends `byte` to `output`, percent-encoded (upper-case hex) unless it is unreserved, or a
    /// `/` that the caller keeps.
    @inline(__always)
    static func appendEncoded(_ byte: UInt8, keepingSlash: Bool, to output: inout [UInt8]) {
        if isUnreserved(byte) || (keepingSlash && byte == UInt8(ascii: "/")) {
            output.append(byte)
        } else {
            output.append(UInt8(ascii: "%"))
            output.append(hexDigits[Int(byte >> 4)])
            output.append(hexDigits[Int(byte & 0x0F)])
        }
    }

    /// SigV4's `UriEncode()` of raw (not yet encoded) text.
    static func encode(_ bytes: some Collection<UInt8>, keepingSlash: Bool) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 3)
        for byte in bytes {
            appendEncoded(byte, keepingSlash: keepingSlash, to: &output)
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Re-encodes text that is already percent-encoded (a URL's path, or one query key or value)
    /// into SigV4's canonical form: each `%XX` is decoded to its byte and every byte is then encoded
    /// exactly once, so `a%20b`, `a b` and `a%2Bb`/`a+b` all come out as the one spelling AWS signs
    /// (`a%20b`, `a%2Bb`). A `%` that starts no valid escape is taken literally (`%25`), and `+` is
    /// a plus, not a space: RFC 3986 has no form encoding.
    static func recode(_ bytes: some Collection<UInt8>, keepingSlash: Bool) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + bytes.count / 2)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            var byte = bytes[index]
            bytes.formIndex(after: &index)
            if byte == UInt8(ascii: "%"), index != bytes.endIndex, let high = hexValue(bytes[index]) {
                let next = bytes.index(after: index)
                if next != bytes.endIndex, let low = hexValue(bytes[next]) {
                    byte = high << 4 | low
                    index = bytes.index(after: next)
                }
            }
            appendEncoded(byte, keepingSlash: keepingSlash, to: &output)
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }

    /// The canonical query string of a URL's percent-encoded query: every `key[=value]` pair
    /// re-encoded, then sorted by key and, for repeated keys, by value (byte order; the encoded
    /// strings are ASCII). A key without `=` gets an empty value (`?uploads` signs as `uploads=`).
    static func canonicalQueryPairs(_ query: String?) -> [(key: String, value: String)] {
        guard let query, !query.isEmpty else { return [] }
        var pairs: [(key: String, value: String)] = []
        for component in query.utf8.split(separator: UInt8(ascii: "&")) {
            if let equals = component.firstIndex(of: UInt8(ascii: "=")) {
                pairs.append((
                    recode(component[..<equals], keepingSlash: false),
                    recode(component[component.index(after: equals)...], keepingSlash: false)
                ))
            } else {
                pairs.append((recode(component, keepingSlash: false), ""))
            }
        }
        return pairs
    }

    /// `key=value` pairs joined with `&`, in the order given.
    static func joinQuery(_ pairs: some Sequence<(key: String, value: String)>) -> String {
        pairs.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
    }

    /// SigV4's `Trimall()`: leading and trailing whitespace removed and each inner run collapsed to
    /// one space. Tabs, CR and LF count as whitespace too, as in botocore (`' '.join(v.split())`),
    /// so a folded multi-line value signs as one line.
    static func trimAll(_ value: String) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(value.utf8.count)
        var pendingSpace = false
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), 0x0B, 0x0C:
                pendingSpace = !output.isEmpty
            default:
                if pendingSpace {
                    output.append(UInt8(ascii: " "))
                    pendingSpace = false
                }
                output.append(byte)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Lower-case hex of a digest or MAC.
    static func hex(_ bytes: some ContiguousBytes) -> String {
        bytes.withUnsafeBytes { raw in
            String(unsafeUninitializedCapacity: raw.count * 2) { buffer in
                for (offset, byte) in raw.enumerated() {
                    buffer[2 * offset] = lowerHexDigits[Int(byte >> 4)]
                    buffer[2 * offset + 1] = lowerHexDigits[Int(byte & 0x0F)]
                }
                return raw.count * 2
            }
        }
    }

    /// The ISO 8601 basic UTC timestamp SigV4 signs (`20150830T123600Z`), computed from the epoch
    /// without a `DateFormatter` (whose locale, calendar and cost are all beside the point here).
    static func amzDate(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        // Howard Hinnant's civil_from_days: proleptic Gregorian date of a day count since 1970-01-01.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

        var output: [UInt8] = []
        output.reserveCapacity(16)
        func append(_ value: Int64, digits: Int) {
            var divisor: Int64 = 1
            for _ in 1..<digits { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                output.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        append(year, digits: 4)
        append(month, digits: 2)
        append(day, digits: 2)
        output.append(UInt8(ascii: "T"))
        append(secondOfDay / 3600, digits: 2)
        append(secondOfDay / 60 % 60, digits: 2)
        append(secondOfDay % 60, digits: 2)
        output.append(UInt8(ascii: "Z"))
        return String(decoding: output, as: UTF8.self)
    }

    /// Query pairs sorted by key, then value (byte order: the encoded strings are ASCII).
    static func sorted(_ pairs: [(key: String, value: String)]) -> [(key: String, value: String)] {
        pairs.sorted { $0.key != $1.key ? $0.key < $1.key : $0.value < $1.value }
    }

    /// The canonical headers block (`name:value\n` per name, sorted, repeated names' values joined
    /// with `,` in the order sent) and the `;`-joined signed header names.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (canonical: String, signed: String) {
        // Sort positions, not values, with the position as tie-break: Swift's sort is not
        // guaranteed stable, and repeated headers must keep their order.
        let order = headers.indices.sorted {
            headers[$0].name != headers[$1].name ? headers[$0].name < headers[$1].name : $0 < $1
        }
        var canonical = ""
        var signed = ""
        canonical.reserveCapacity(headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 2 })
        var previous: String?
        for index in order {
            let (name, value) = headers[index]
            if name == previous {
                canonical += ","
            } else {
                if previous != nil {
                    canonical += "\n"
                    signed += ";"
                }
                canonical += name
                canonical += ":"
                signed += name
                previous = name
            }
            canonical += SigV4Encoding.trimAll(value)
        }
        canonical += "\n"
        return (canonical, signed)
    }
}
