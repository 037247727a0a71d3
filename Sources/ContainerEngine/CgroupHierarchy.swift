import Foundation

/// The cgroup hierarchies of this host, read from `/proc/self/mountinfo`.
///
/// Hosts differ: v2-only (most current distributions), v1 with one mount per controller (this
/// machine, where the v2 mount exists but has no controllers), or hybrid. The engine uses v2 when
/// its root offers the controllers it needs and v1 otherwise, never guessing mount points.
public struct CgroupHierarchy: Sendable, Equatable {
    /// Mount point of each v1 controller (`memory` -> `/sys/fs/cgroup/memory`).
    public var v1: [String: String] = [:]
    /// Mount point of the unified (v2) hierarchy, if mounted.
    public var unified: String?

    public init(v1: [String: String] = [:], unified: String? = nil) {
        self.v1 = v1
        self.unified = unified
    }

    /// Parses mountinfo text (proc(5): fields, then ` - `, fstype, source, super options).
    public init(mountinfo: String) {
        for line in mountinfo.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let fields = halves[0].split(separator: " ")
            let tail = halves[1].split(separator: " ")
            guard fields.count >= 5, tail.count >= 3 else { continue }
            let mountPoint = CgroupHierarchy.unescape(String(fields[4]))
            switch tail[0] {
            case "cgroup2":
                if unified == nil { unified = mountPoint }
            case "cgroup":
                for option in tail[2].split(separator: ",") where !option.hasPrefix("name=") && option != "rw" && option != "ro" {
                    if v1[String(option)] == nil { v1[String(option)] = mountPoint }
                }
            default:
                continue
            }
        }
    }

    /// This host's hierarchies.
    public static func current(mountinfo path: String = "/proc/self/mountinfo") -> CgroupHierarchy {
        CgroupHierarchy(mountinfo: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }

    /// Mountinfo escapes spaces and other bytes as `\ooo` octal.
    static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Controllers the v2 root offers (`cgroup.controllers`).
    public func unifiedControllers() -> Set<String> {
        guard let unified, let text = try? String(contentsOfFile: unified + "/cgroup.controllers", encoding: .utf8) else {
            return []
        }
        return Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    /// Whether the engine should use v2: it needs memory, pids and cpu there.
    public var prefersUnified: Bool {
        unified != nil && unifiedControllers().isSuperset(of: ["memory", "pids", "cpu"])
    }
}
