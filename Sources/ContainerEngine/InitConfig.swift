/// The configuration `CContainerInit` reads: NUL-terminated `key=value` strings, then an
/// empty one. Keys are documented at the top of `Sources/CContainerInit/container_init.c`.
struct InitConfig {
    private(set) var entries: [(String, String)] = []
    /// A value that would split into two entries: refused by `encoded()`.
    private var smuggled: String?

    mutating func set(_ key: String, _ value: String) {
        // A NUL ends an entry: an image's Env or Cmd must not be able to add `mount=/:/host`.
        if key.utf8.contains(0) || value.utf8.contains(0) { smuggled = smuggled ?? key }
        entries.append((key, value))
    }

    mutating func set(_ key: String, _ values: [String]) {
        for value in values { set(key, value) }
    }

    /// The wire form; throws when a value holds a NUL byte.
    func encoded() throws -> [UInt8] {
        if let smuggled { throw EngineError.invalidOption("\(smuggled): a value holds a NUL byte") }
        return bytes
    }

    /// The wire form, unchecked (tests).
    var bytes: [UInt8] {
        var out: [UInt8] = []
        for (key, value) in entries {
            out += Array(key.utf8) + [UInt8(ascii: "=")] + Array(value.utf8) + [0]
        }
        return out + [0]
    }

    /// `mode=run`: start a container from its record.
    static func run(_ record: ContainerRecord, rootfs: String, upper: String, work: String,
                    files: [(String, String)], netns: String, capabilities: [Int]? = nil) -> InitConfig {
        var config = InitConfig()
        config.set("mode", "run")
        config.set("rootfs", rootfs)
        config.set("lower", record.lowerDirs)
        config.set("upper", upper)
        config.set("work", work)
        config.set("hostname", record.hostname)
        config.addProcess(record.process)
        if record.readOnly { config.set("readonly", "1") }
        for mount in record.mounts {
            config.set("mount", "\(mount.source):\(mount.destination):\(mount.readOnly ? "ro" : "rw")")
        }
        for (source, destination) in files { config.set("file", "\(source):\(destination)") }
        config.set("net", netns)
        if let capabilities { config.set("cap", capabilities.map(String.init)) }
        return config
    }

    /// runc's default capabilities without CAP_MKNOD (27), for hosts where no devices cgroup
    /// confines what a created node may open.
    static let capabilitiesWithoutMknod: [Int] = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 29, 31]

    /// `mode=exec`: another process in a running container's namespaces.
    static func exec(pid: Int32, process: ContainerRecord.Process, capabilities: [Int]? = nil) -> InitConfig {
        var config = InitConfig()
        config.set("mode", "exec")
        config.set("pid", String(pid))
        config.addProcess(process)
        if let capabilities { config.set("cap", capabilities.map(String.init)) }
        return config
    }

    private mutating func addProcess(_ process: ContainerRecord.Process) {
        set("cwd", process.cwd)
        set("uid", String(process.uid))
        set("gid", String(process.gid))
        if !process.groups.isEmpty { set("groups", process.groups.map(String.init).joined(separator: ",")) }
        set("env", process.env)
        set("arg", process.args)
        if process.tty { set("tty", "1") }
        set("nonewprivs", "1")
    }
}
