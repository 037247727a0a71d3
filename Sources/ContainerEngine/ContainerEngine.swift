import Foundation
import ImageStore
import OCI
import SystemSupport

/// Creates, runs, supervises and removes containers from images in the local store.
///
/// Daemonless: `berth run` (or, for `-d`, a `berth` monitor process it starts) supervises the
/// container itself and records its end; any other `berth` reconciles records whose supervisor
/// died (`reconcile`), so a crash leaves nothing behind for long.
public struct ContainerEngine: Sendable {
    public let store: ImageStore
    public let paths: EnginePaths
    public let containers: ContainerStore
    public let networks: NetworkManager

    public init(store: ImageStore) throws {
        self.store = store
        paths = EnginePaths(root: store.root)
        containers = try ContainerStore(paths: paths)
        networks = NetworkManager(paths: paths)
    }

    // MARK: create

    /// Resolves the spec against the stored image `descriptor` and records a new container.
    public func create(_ spec: ContainerSpec, image descriptor: Descriptor) throws -> ContainerRecord {
        let (manifest, config) = try imageParts(descriptor)
        let lowers = try Snapshotter(store: store, paths: paths).prepare(layers: manifest.layers, config: config)
        let defaults = config.config
        var args = spec.entrypoint.map { $0.isEmpty ? [] : [$0] } ?? defaults?.entrypoint ?? []
        if !spec.command.isEmpty {
            args += spec.command
        } else if spec.entrypoint == nil || spec.entrypoint?.isEmpty == true {
            args += defaults?.cmd ?? []
        }
        guard !args.isEmpty else { throw EngineError.invalidOption("no command specified: the image has no Entrypoint or Cmd") }
        let id = ContainerStore.newID()
        let hostname = spec.hostname ?? (spec.network == "host" ? ProcessInfo.processInfo.hostName : String(id.prefix(12)))
        let user = try UserResolver(lowerDirs: lowers).resolve(spec.user ?? defaults?.user)
        var env = Environment(defaults?.env ?? [])
        env.setDefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        env.set("HOSTNAME", hostname)
        if spec.tty { env.setDefault("TERM", "xterm") }
        env.setDefault("HOME", user.home)
        for entry in spec.env { env.set(entry) }
        let network = spec.network == "bridge" ? BridgeNetwork.defaultName : spec.network
        if !spec.ports.isEmpty && ["none", "host"].contains(network) || network.hasPrefix("container:") && !spec.ports.isEmpty {
            throw EngineError.invalidOption("-p needs a bridge network, not --network \(spec.network)")
        }
        if network.hasPrefix("container:") {
            let target = try containers.find(String(network.dropFirst("container:".count)))
            guard target.state == .running else { throw EngineError.containerNotRunning(target.name) }
        } else if !["none", "host"].contains(network) {
            _ = try networks.network(named: network)
        }
        let record = ContainerRecord(
            id: id, name: spec.name ?? NameGenerator.random(), image: spec.image, imageDigest: descriptor.digest.description,
            created: Date(), hostname: hostname,
            process: .init(args: args, env: env.entries, cwd: spec.workdir ?? defaults?.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/",
                           uid: user.uid, gid: user.gid, groups: user.groups, tty: spec.tty),
            lowerDirs: lowers, readOnly: spec.readOnly, mounts: spec.mounts, limits: spec.limits,
            network: .init(mode: network, ports: spec.ports), autoRemove: spec.autoRemove, detached: spec.detached)
        if let name = spec.name, name.range(of: #"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$"#, options: .regularExpression) == nil {
            throw EngineError.invalidOption("invalid container name \"\(name)\": use [a-zA-Z0-9][a-zA-Z0-9_.-]*")
        }
        try containers.create(record)
        return record
    }

    /// The manifest (for this machine's platform when `descriptor` is an index) and config.
    func imageParts(_ descriptor: Descriptor) throws -> (ImageManifest, ImageRuntimeConfig) {
        var current = descriptor
        for _ in 0..<2 {
            switch try AnyManifest(decoding: store.readBlob(current.digest), contentType: current.mediaType) {
            case .image(let manifest):
                return (manifest, try ImageRuntimeConfig(decoding: store.readBlob(manifest.config.digest)))
            case .index(let index):
                guard let wanted = index.manifest(for: Platform.current) else {
                    throw EngineError.invalidImage("no manifest for \(Platform.current) in the index")
                }
                current = wanted
            }
        }
        throw EngineError.invalidImage("nested indexes")
    }

    // MARK: lifecycle

    /// Whether the recorded container process still exists (and is the same process).
    public func isAlive(_ record: ContainerRecord) -> Bool {
        guard let pid = record.pid, ProcessStat.isLive(pid) else { return false }
        return record.pidStartTime == nil || ProcessStat.startTime(of: pid) == record.pidStartTime
    }

    /// Marks containers whose supervisor died as exited and cleans up after them.
    public func reconcile() {
        guard let records = try? containers.all() else { return }
        for record in records where record.state == .running || record.state == .created {
            let monitorAlive = record.monitorPid.map {
                ProcessStat.isLive($0) && (record.monitorStartTime == nil || ProcessStat.startTime(of: $0) == record.monitorStartTime)
            } ?? false
            if monitorAlive { continue }
            if record.state == .running && isAlive(record) { continue }
            if record.state == .created && Date().timeIntervalSince(record.created) < 60 { continue }
            finish(record.id, exitCode: record.exitCode ?? 255, error: "its supervisor stopped")
        }
    }

    /// Records the end of a container and releases what it held on the host.
    @discardableResult
    func finish(_ id: String, exitCode: Int32, error: String? = nil) -> ContainerRecord? {
        guard let record = try? containers.update(id, { record in
            if record.state != .exited { try record.transition(to: .exited) }
            record.exitCode = exitCode
            record.finishedAt = Date()
            record.pid = nil
            if let error, record.error == nil { record.error = error }
        }) else { return nil }
        release(record)
        if record.autoRemove { try? containers.remove(id: id) }
        return record
    }

    /// Undoes what a run added to the host (idempotent).
    func release(_ record: ContainerRecord) {
        if !["none", "host"].contains(record.network.mode) && !record.network.mode.hasPrefix("container:") {
            networks.detach(container: record.id, attachment: record.network)
        }
        ContainerCgroup(id: record.id).remove()
    }

    /// Sends `signal` to the container's PID 1.
    public func signal(_ record: ContainerRecord, _ signal: Int32) throws {
        guard record.state == .running, isAlive(record), let pid = record.pid else {
            throw EngineError.containerNotRunning(record.name)
        }
        guard kill(pid, signal) == 0 else { throw SystemError("kill", record.name) }
    }

    /// SIGTERM, then SIGKILL after `timeout` seconds; returns once the container has exited.
    public func stop(_ record: ContainerRecord, timeout: Double) throws {
        guard record.state == .running else { return }
        if let pid = record.pid, isAlive(record) { kill(pid, SIGTERM) }
        if try waitForExit(record.id, timeout: timeout) { return }
        if let pid = record.pid, isAlive(record) { kill(pid, SIGKILL) }
        _ = try waitForExit(record.id, timeout: 10)
    }

    /// Waits until the record says exited (or the process is gone and no one supervises it).
    func waitForExit(_ id: String, timeout: Double) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            guard let record = try? containers.load(id: id) else { return true }
            if record.state == .exited { return true }
            if !isAlive(record) {
                reconcile()
                if (try? containers.load(id: id))?.state != .running { return true }
            }
            usleep(20_000)
        } while Date() < deadline
        return false
    }

    /// Removes a container (killing it first with `force`).
    public func remove(_ record: ContainerRecord, force: Bool) throws {
        if record.state == .running, isAlive(record) {
            guard force else { throw EngineError.containerRunning(record.name) }
            if let pid = record.pid { kill(pid, SIGKILL) }
            _ = try waitForExit(record.id, timeout: 10)
        }
        let latest = (try? containers.load(id: record.id)) ?? record
        release(latest)
        try containers.remove(id: record.id)
    }
}

/// `KEY=VALUE` entries with docker's override rules (a later KEY replaces an earlier one).
struct Environment {
    private(set) var entries: [String]

    init(_ entries: [String]) { self.entries = entries }

    private func index(of key: String) -> Int? {
        entries.firstIndex { $0 == key || $0.hasPrefix(key + "=") }
    }

    mutating func set(_ key: String, _ value: String) { set(key + "=" + value) }

    mutating func set(_ entry: String) {
        let key = String(entry.prefix { $0 != "=" })
        if let existing = index(of: key) { entries[existing] = entry } else { entries.append(entry) }
    }

    mutating func setDefault(_ key: String, _ value: String) {
        if index(of: key) == nil { entries.append(key + "=" + value) }
    }
}

/// Fields of `/proc/PID/stat`.
enum ProcessStat {
    /// Whether `pid` exists and has not terminated: a zombie still answers `kill(pid, 0)`
    /// until its parent reaps it, which an orphan's new parent may take its time to do.
    static func isLive(_ pid: pid_t) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return false }
        let state = text[text.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }

    /// Start time in clock ticks since boot (field 22), to tell a pid from a reused one.
    static func startTime(of pid: pid_t) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }
}

/// Docker-like random names (`brave_turing`), when `--name` is not given.
enum NameGenerator {
    static let adjectives = ["brave", "calm", "eager", "fond", "keen", "lucid", "merry", "quiet", "sharp", "tidy", "vivid", "witty"]
    static let names = ["babbage", "curie", "dijkstra", "hopper", "knuth", "lamport", "lovelace", "noether", "ritchie", "shannon", "thompson", "turing"]

    static func random() -> String {
        "\(adjectives.randomElement()!)_\(names.randomElement()!)_\(String(format: "%04x", UInt16.random(in: 0...UInt16.max)))"
    }
}
