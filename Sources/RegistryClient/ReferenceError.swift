/// Why a reference, repository, tag or digest string was rejected.
public enum ReferenceError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case invalidDigest(String)
    case invalidTag(String)
    case invalidRepository(String)
    case invalidHost(String)
    case nameTooLong(String)
    case uppercase(String)

    public var description: String {
        switch self {
        case .empty: return "invalid reference: empty"
        case .invalidDigest(let s): return "invalid digest \"\(s)\""
        case .invalidTag(let s): return "invalid tag \"\(s)\": use [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
        case .invalidRepository(let s): return "invalid repository name \"\(s)\""
        case .invalidHost(let s): return "invalid registry host \"\(s)\""
        case .nameTooLong(let s): return "repository name \"\(s)\" is longer than 255 characters"
        case .uppercase(let s): return "invalid reference \"\(s)\": repository name must be lowercase"
        }
    }
}
