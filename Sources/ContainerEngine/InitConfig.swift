/// The configuration `CContainerInit` reads: NUL-terminated `key=value` strings, then an
/// empty one. Keys are documented at the top of `Sources/CContainerInit/container_init.c`.
struct InitConfig {
    private(set) var entries: [(String, String)] = []

    mutating func set(_ key: String, _ value: String) { entries.append((key, value)) }

    mutating func set(_ key: String, _ values: [String]) {
        for value in values { entries.append((key, value)) }
    }

    /// The wire form.
    var bytes: [UInt8] {
        var out: [UInt8] = []
        for (key, value) in entries {
            out += Array(key.utf8) + [UInt8(ascii: "=")] + Array(value.utf8) + [0]
        }
        return out + [0]
    }

    /// `mode=run`: start a container from its record.
    static func run(_ record: ContainerRecord, rootfs: String, upper: String, work: String,
                    files: [(String, String)], netns: String) -> InitConfig {
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
        return config
    }

    /// `mode=exec`: another process in a running container's namespaces.
    static func exec(pid: Int32, process: ContainerRecord.Process) -> InitConfig {
        var config = InitConfig()
        config.set("mode", "exec")
        config.set("pid", String(pid))
        config.addProcess(process)
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
