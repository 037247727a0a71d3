/// What we can present to a registry for one host.
///
/// `description` never shows the secret, so a `Credentials` can be interpolated into logs safely.
public struct Credentials: Sendable, Equatable, CustomStringConvertible {
    /// User name (empty for identity-token-only entries).
    public var username: String
    /// Password, or nil when only an identity token is stored.
    public var password: String?
    /// An OAuth2 refresh token (`identitytoken` in config.json).
    public var identityToken: String?

    public init(username: String, password: String? = nil, identityToken: String? = nil) {
        self.username = username
        self.password = password
        self.identityToken = identityToken
    }

    /// `Basic base64(user:password)`, when a password is known.
    public var basicAuthorization: String? {
        guard let password else { return nil }
        return "Basic " + Base64.encode(Array("\(username):\(password)".utf8))
    }

    public var description: String {
        "Credentials(user: \(username), password: \(password == nil ? "none" : "<redacted>"), "
            + "identityToken: \(identityToken == nil ? "none" : "<redacted>"))"
    }
}

/// Standard base64 without Foundation's Data round trips.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Encodes bytes with padding.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i]
            let b1 = i + 1 < bytes.count ? bytes[i + 1] : 0
            let b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? alphabet[Int((b1 & 0x0f) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(b2 & 0x3f)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes standard or URL-safe base64, padded or not; nil on bad input.
    public static func decode(_ string: String) -> [UInt8]? {
        var values: [UInt8] = []
        for c in string.utf8 {
            switch c {
            case 65...90: values.append(c - 65)
            case 97...122: values.append(c - 71)
            case 48...57: values.append(c + 4)
            case 43, 45: values.append(62)
            case 47, 95: values.append(63)
            case 61, 10, 13: continue
            default: return nil
            }
        }
        var out: [UInt8] = []
        var i = 0
        while i + 1 < values.count {
            out.append(values[i] << 2 | values[i + 1] >> 4)
            if i + 2 < values.count { out.append(values[i + 1] << 4 | values[i + 2] >> 2) }
            if i + 3 < values.count { out.append(values[i + 2] << 6 | values[i + 3]) }
            i += 4
        }
        return values.count % 4 == 1 ? nil : out
    }
}
