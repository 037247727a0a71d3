import Foundation

/// The entries of an Apache htpasswd file, bcrypt only (as Distribution's `auth.htpasswd`).
///
/// Lines are `user:hash`; blank lines and `#` comments are skipped. Other hash kinds (MD5 `$apr1$`,
/// SHA1 `{SHA}`, crypt) are refused at load, naming the line, rather than silently never matching.
public struct HtpasswdFile: Sendable {
    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(String)
        case malformed(path: String, line: Int)
        case unsupportedHash(path: String, line: Int, user: String)

        public var description: String {
            switch self {
            case .unreadable(let path): "\(path): cannot read the htpasswd file"
            case .malformed(let path, let line): "\(path):\(line): expected user:bcrypt-hash"
            case .unsupportedHash(let path, let line, let user):
                "\(path):\(line): user \(user) has a non-bcrypt hash (use htpasswd -B)"
            }
        }
    }

    public let entries: [String: String]

    public init(entries: [String: String]) {
        self.entries = entries
    }

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw LoadError.unreadable(path) }
        var entries: [String: String] = [:]
        for (index, rawLine) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw LoadError.malformed(path: path, line: index + 1)
            }
            let user = String(line[..<colon])
            let hash = String(line[line.index(after: colon)...])
            guard ["$2y$", "$2a$", "$2b$"].contains(where: { hash.hasPrefix($0) }) else {
                throw LoadError.unsupportedHash(path: path, line: index + 1, user: user)
            }
            // `$2y$` (Apache's htpasswd -B) is the same algorithm as `$2b$`, which is the only
            // spelling the bcrypt implementation accepts.
            entries[user] = hash.hasPrefix("$2y$") ? "$2b$" + hash.dropFirst(4) : hash
        }
        self.entries = entries
    }
}
