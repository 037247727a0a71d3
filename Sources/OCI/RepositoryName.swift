/// A repository name such as `library/busybox`, checked against the distribution-spec grammar.
///
/// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, at most 255 characters
/// in total (Distribution's limit). A valid name can never contain `..`, `%` or an empty segment,
/// so it is safe to use in paths and SQL parameters.
public struct RepositoryName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let maximumLength = 255

    public struct ValidationError: Error, Equatable, CustomStringConvertible {
        public let name: String
        public var description: String { "invalid repository name \"\(name.prefix(300))\"" }
    }

    public let value: String

    public init(_ text: some StringProtocol) throws(ValidationError) {
        let name = String(text)
        guard !name.isEmpty, name.utf8.count <= Self.maximumLength,
              name.split(separator: "/", omittingEmptySubsequences: false).allSatisfy({ Self.isValidComponent($0) }) else {
            throw ValidationError(name: String(text))
        }
        value = name
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    static func isValidComponent(_ component: Substring) -> Bool {
        var previousAlnum = false
        var separatorRun: [UInt8] = []
        for byte in component.utf8 {
            let alnum = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
            if alnum {
                if !separatorRun.isEmpty {
                    guard isValidSeparator(separatorRun) else { return false }
                    separatorRun.removeAll()
                }
                previousAlnum = true
            } else if byte == 0x2E || byte == 0x5F || byte == 0x2D {
                guard previousAlnum || !separatorRun.isEmpty else { return false }
                separatorRun.append(byte)
                previousAlnum = false
            } else {
                return false
            }
        }
        return previousAlnum && separatorRun.isEmpty
    }

    private static func isValidSeparator(_ run: [UInt8]) -> Bool {
        if run == [0x2E] || run == [0x5F] || run == [0x5F, 0x5F] { return true }
        return run.allSatisfy { $0 == 0x2D }
    }

    public var description: String { value }
    public static func < (lhs: RepositoryName, rhs: RepositoryName) -> Bool { lhs.value < rhs.value }
}
