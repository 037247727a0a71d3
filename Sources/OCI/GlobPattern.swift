/// A glob over `/`-separated names: `*` matches any run within one segment, `**` any run across
/// segments (`team/**` matches `team/a` and `team/a/b`), `?` one character other than `/`.
///
/// The empty glob matches only the empty text (berth-auth's anonymous account).
/// The one matcher for repository and tag rules (retention, immutable tags) and berth-auth's ACL.
public struct GlobPattern: Sendable, Hashable, CustomStringConvertible {
    public struct ValidationError: Error, CustomStringConvertible {
        public let description: String
    }

    private enum Token: Sendable, Hashable {
        case literal(UInt8)
        case one
        case segment
        case any
    }

    public let source: String
    private let tokens: [Token]

    public init(_ source: String) throws(ValidationError) {
        let bytes = Array(source.utf8)
        var tokens: [Token] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "*") {
                var run = 0
                while index < bytes.count, bytes[index] == UInt8(ascii: "*") { run += 1; index += 1 }
                guard run <= 2 else { throw ValidationError(description: "invalid glob \"\(source)\": more than two * in a row") }
                tokens.append(run == 2 ? .any : .segment)
                continue
            }
            tokens.append(byte == UInt8(ascii: "?") ? .one : .literal(byte))
            index += 1
        }
        self.source = source
        self.tokens = tokens
    }

    public var description: String { source }

    public func matches(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        // Memoised on (token, byte) positions: linear in practice, never exponential.
        var memo = [Int8](repeating: -1, count: (tokens.count + 1) * (bytes.count + 1))
        func match(_ t: Int, _ b: Int) -> Bool {
            let key = t * (bytes.count + 1) + b
            if memo[key] >= 0 { return memo[key] == 1 }
            let result: Bool
            if t == tokens.count {
                result = b == bytes.count
            } else {
                switch tokens[t] {
                case .literal(let byte): result = b < bytes.count && bytes[b] == byte && match(t + 1, b + 1)
                case .one: result = b < bytes.count && bytes[b] != UInt8(ascii: "/") && match(t + 1, b + 1)
                case .segment:
                    result = match(t + 1, b) || (b < bytes.count && bytes[b] != UInt8(ascii: "/") && match(t, b + 1))
                case .any:
                    result = match(t + 1, b) || (b < bytes.count && match(t, b + 1))
                }
            }
            memo[key] = result ? 1 : 0
            return result
        }
        return match(0, 0)
    }
}
