/// A parsed `WWW-Authenticate` challenge: scheme plus parameters.
///
/// Handles quoted strings with escapes, unquoted tokens, several parameters and several
/// challenges in one header (`Basic realm="x", Bearer realm="y",service="z"`).
/// See RFC 7235 section 4.1 and https://distribution.github.io/distribution/spec/auth/token/
public struct AuthChallenge: Hashable, Sendable {
    /// Lower-cased scheme: `basic` or `bearer` (others are kept but unanswered).
    public var scheme: String
    /// Parameters with lower-cased names (`realm`, `service`, `scope`, `error`).
    public var parameters: [String: String]

    public init(scheme: String, parameters: [String: String]) {
        self.scheme = scheme.lowercased()
        self.parameters = parameters
    }

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    public var scope: String? { parameters["scope"] }
    public var error: String? { parameters["error"] }

    /// Parses every challenge in one header value.
    public static func parse(_ header: String) -> [AuthChallenge] {
        var scanner = Scanner(Array(header.utf8))
        var result: [AuthChallenge] = []
        var current: AuthChallenge?
        while true {
            scanner.skip { $0 == 32 || $0 == 9 || $0 == 44 }  // spaces, tabs, commas
            guard !scanner.atEnd else { break }
            let token = scanner.token()
            guard !token.isEmpty else { scanner.advance(); continue }
            scanner.skip { $0 == 32 || $0 == 9 }
            if scanner.peek == UInt8(ascii: "=") {
                // A parameter of the current challenge.
                scanner.advance()
                scanner.skip { $0 == 32 || $0 == 9 }
                let value = scanner.peek == UInt8(ascii: "\"") ? scanner.quoted() : scanner.token()
                current?.parameters[token.lowercased()] = value
            } else {
                // A new scheme.
                if let c = current { result.append(c) }
                current = AuthChallenge(scheme: token, parameters: [:])
            }
        }
        if let c = current { result.append(c) }
        return result
    }

    /// A tiny byte scanner for the header grammar.
    private struct Scanner {
        let bytes: [UInt8]
        var i = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var atEnd: Bool { i >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[i] }
        mutating func advance() { i += 1 }
        mutating func skip(while predicate: (UInt8) -> Bool) {
            while let c = peek, predicate(c) { i += 1 }
        }
        /// An RFC 7230 token (plus `/` and `:` seen in realms written unquoted).
        mutating func token() -> String {
            let start = i
            while let c = peek, c != 32, c != 9, c != 44, c != 61, c != 34 { i += 1 }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }
        /// A quoted string with backslash escapes; the opening quote is at `i`.
        mutating func quoted() -> String {
            i += 1
            var out: [UInt8] = []
            while let c = peek {
                i += 1
                if c == 92, let next = peek { out.append(next); i += 1; continue }
                if c == 34 { break }
                out.append(c)
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
