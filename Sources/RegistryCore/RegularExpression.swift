import Foundation

/// A compiled regular expression with its source, matched anywhere in the text (as Go's
/// `MatchString`, which the configuration's patterns were written for).
public struct RegularExpression: @unchecked Sendable {
    public let source: String
    let expression: NSRegularExpression

    public init(_ source: String) throws {
        self.source = source
        self.expression = try NSRegularExpression(pattern: source)
    }

    /// One expression matching when any of `sources` matches (`(?:a)|(?:b)`, as Distribution joins them).
    public init(anyOf sources: [String]) throws {
        try self.init(sources.map { "(?:\($0))" }.joined(separator: "|"))
    }

    public func matches(_ text: String) -> Bool {
        expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}
