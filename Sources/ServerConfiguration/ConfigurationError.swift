/// Configuration problems, each naming the key path.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let problems: [String]

    public init(problems: [String]) {
        self.problems = problems
    }

    public var description: String { "invalid configuration:\n" + problems.map { "  \($0)" }.joined(separator: "\n") }
}
