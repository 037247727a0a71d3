import Foundation

/// One container's cgroup(s): `berth/<id>` under each hierarchy used, with its limits.
///
/// v2: one directory under the unified root, controllers enabled in `berth/`'s
/// `cgroup.subtree_control`; files `memory.max`, `memory.swap.max`, `pids.max`, `cpu.max`.
/// v1: one directory per controller (memory, pids, cpu, cpuacct): `memory.limit_in_bytes`
/// (and `memory.memsw.limit_in_bytes` when swap accounting exists, so swap cannot evade it),
/// `pids.max`, `cpu.cfs_quota_us` over `cpu.cfs_period_us`.
public struct ContainerCgroup: Sendable {
    public let directories: [String]
    let unified: Bool

    static let v1Controllers = ["memory", "pids", "cpu", "cpuacct", "devices"]

    /// runc's default device rules: any node may be created (`m`), only these may be used.
    /// Without them a container's root could open the host's disks through a node it makes.
    static let allowedDevices = [
        "c *:* m", "b *:* m",
        "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",  // null zero full random urandom
        "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm",             // tty console ptmx pts
        "c 10:200 rwm",                                                    // tun
    ]

    /// Whether device access is confined by a cgroup (v1 `devices`); on v2 that takes a BPF
    /// program, so there the engine withholds CAP_MKNOD instead and the root is mounted nodev.
    /// Valid once `create` has run.
    public var confinesDevices: Bool {
        !unified && directories.contains { FileManager.default.fileExists(atPath: $0 + "/devices.deny") }
    }
    static let period = 100_000

    /// The directories for container `id`; nothing is created yet.
    public init(id: String, hierarchy: CgroupHierarchy = .current()) {
        if hierarchy.prefersUnified, let root = hierarchy.unified {
            directories = [root + "/berth/" + id]
            unified = true
        } else {
            var seen = Set<String>()
            directories = ContainerCgroup.v1Controllers.compactMap { hierarchy.v1[$0] }
                .filter { seen.insert($0).inserted }
                .map { $0 + "/berth/" + id }
            unified = false
        }
    }

    /// Creates the directories and writes the limits.
    public func create(limits: ContainerRecord.Limits) throws {
        for dir in directories {
            let parent = (dir as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            if unified { try? write("+memory +pids +cpu", to: parent + "/cgroup.subtree_control") }
            if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw EngineError.cgroup("mkdir \(dir): \(String(cString: strerror(errno)))") }
        }
        if let dir = directory(with: "devices.deny") {
            try write("a", to: dir + "/devices.deny")
            for rule in ContainerCgroup.allowedDevices { try write(rule, to: dir + "/devices.allow") }
        }
        if let bytes = limits.memoryBytes { try setMemory(bytes) }
        if let pids = limits.pids { try set("pids.max", String(pids)) }
        if let cpus = limits.cpus {
            let quota = max(1000, Int(cpus * Double(ContainerCgroup.period)))
            if unified {
                try set("cpu.max", "\(quota) \(ContainerCgroup.period)")
            } else {
                try set("cpu.cfs_period_us", String(ContainerCgroup.period))
                try set("cpu.cfs_quota_us", String(quota))
            }
        }
    }

    private func setMemory(_ bytes: Int64) throws {
        if unified {
            try set("memory.max", String(bytes))
            try? set("memory.swap.max", "0")
        } else {
            try set("memory.limit_in_bytes", String(bytes))
            if let dir = directory(with: "memory.memsw.limit_in_bytes") {
                try write(String(bytes), to: dir + "/memory.memsw.limit_in_bytes")
            }
        }
    }

    /// Moves process `pid` into every directory.
    public func add(pid: Int32) throws {
        for dir in directories { try write(String(pid), to: dir + "/cgroup.procs") }
    }

    /// Removes the directories; processes still inside are killed first (a container's
    /// leftovers must not outlive it).
    public func remove() {
        for dir in directories where FileManager.default.fileExists(atPath: dir) {
            for _ in 0..<50 {
                if rmdir(dir) == 0 || errno == ENOENT { break }
                let procs = (try? String(contentsOfFile: dir + "/cgroup.procs", encoding: .utf8)) ?? ""
                for pid in procs.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
                usleep(20_000)
            }
        }
    }

    /// Whether the kernel recorded an out-of-memory kill in this cgroup.
    public var oomKilled: Bool {
        for dir in directories {
            if let text = try? String(contentsOfFile: dir + (unified ? "/memory.events" : "/memory.oom_control"), encoding: .utf8),
               text.split(separator: "\n").contains(where: { $0.hasPrefix("oom_kill ") && !$0.hasSuffix(" 0") }) {
                return true
            }
        }
        return false
    }

    private func directory(with file: String) -> String? {
        directories.first { FileManager.default.fileExists(atPath: $0 + "/" + file) }
    }

    private func set(_ file: String, _ value: String) throws {
        guard let dir = directory(with: file) else { throw EngineError.cgroup("no controller offers \(file)") }
        try write(value, to: dir + "/" + file)
    }

    private func write(_ value: String, to path: String) throws {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { throw EngineError.cgroup("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else {
            throw EngineError.cgroup("write \(value) to \(path): \(String(cString: strerror(errno)))")
        }
    }
}
