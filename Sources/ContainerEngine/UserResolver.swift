import Foundation

/// Resolves `-u NAME|UID[:GID]` against the image's `/etc/passwd` and `/etc/group`, read from
/// the snapshots top-most first (a whiteout hides the file, as in the mounted root).
struct UserResolver {
    let lowerDirs: [String]

    struct Resolved { var uid: UInt32; var gid: UInt32; var groups: [UInt32]; var home: String }

    func resolve(_ user: String?) throws -> Resolved {
        let text = user ?? ""
        if text.isEmpty { return Resolved(uid: 0, gid: 0, groups: [], home: home(ofUID: 0) ?? "/root") }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let passwd = read("etc/passwd")
        let entry: [String]?
        if let uid = UInt32(parts[0]) {
            entry = passwd.first { $0.count >= 6 && UInt32($0[2]) == uid }
        } else {
            entry = passwd.first { $0.count >= 6 && $0[0] == parts[0] }
            guard entry != nil else { throw EngineError.invalidOption("unable to find user \(parts[0]): no matching entries in passwd file") }
        }
        let uid = UInt32(parts[0]) ?? entry.flatMap { UInt32($0[2]) } ?? 0
        var gid = entry.flatMap { UInt32($0[3]) } ?? 0
        if parts.count == 2 {
            if let number = UInt32(parts[1]) {
                gid = number
            } else if let group = read("etc/group").first(where: { $0.count >= 3 && $0[0] == parts[1] }), let number = UInt32(group[2]) {
                gid = number
            } else {
                throw EngineError.invalidOption("unable to find group \(parts[1]): no matching entries in group file")
            }
        }
        var groups: [UInt32] = []
        if let name = entry?[0] {
            groups = read("etc/group").filter { $0.count >= 4 && $0[3].split(separator: ",").contains(Substring(name)) }
                .compactMap { UInt32($0[2]) }
        }
        return Resolved(uid: uid, gid: gid, groups: groups.filter { $0 != gid }, home: entry?[5] ?? "/")
    }

    private func home(ofUID uid: UInt32) -> String? {
        read("etc/passwd").first { $0.count >= 6 && UInt32($0[2]) == uid }?[5]
    }

    /// The colon-separated lines of a file of the image; a whiteout or absence gives none.
    private func read(_ path: String) -> [[String]] {
        for dir in lowerDirs {
            var info = stat()
            let full = dir + "/" + path
            // `etc` must be a real directory of the layer: a symlink (`etc -> /etc`) would make
            // the host's own files answer for the image.
            var parent = stat()
            let parentPath = (full as NSString).deletingLastPathComponent
            if lstat(parentPath, &parent) == 0 && parent.st_mode & S_IFMT != S_IFDIR { return [] }
            guard lstat(full, &info) == 0 else { continue }
            guard info.st_mode & S_IFMT == S_IFREG, info.st_size < 4 << 20,
                  let text = try? String(contentsOfFile: full, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        }
        return []
    }
}
