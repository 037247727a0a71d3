import Dispatch
import Foundation
import ImageStore
import SystemSupport

/// Starts one container and supervises it until it exits: cgroups, namespaces (through
/// `InitProcess`), network, signal forwarding, and the record of its life and end.
public struct ContainerRunner: Sendable {
    public let engine: ContainerEngine

    public init(engine: ContainerEngine) { self.engine = engine }

    /// Runs container `id` with `stdio` as its standard descriptors; returns its exit status
    /// (125 when the engine failed, 126/127 when the command could not be executed).
    /// `started` is called once, when PID 1 runs or with the reason it could not start.
    public func run(_ id: String, stdio: (Int32, Int32, Int32),
                    started: (Result<ContainerRecord, any Error>) -> Void) -> Int32 {
        var reported = false
        func fail(_ error: any Error, code: Int32) -> Int32 {
            engine.finish(id, exitCode: code, error: "\(error)")
            if !reported { started(.failure(error)) }
            reported = true
            return code
        }
        let initProcess: InitProcess
        var record: ContainerRecord
        let cgroup = ContainerCgroup(id: id)
        do {
            record = try engine.containers.update(id) { record in
                record.monitorPid = getpid()
                record.monitorStartTime = ProcessStat.startTime(of: getpid())
            }
            guard record.state == .created else { throw EngineError.illegalTransition(from: record.state, to: .running, container: id) }
            try cgroup.create(limits: record.limits)
            let files = try writeFiles(record, address: nil)
            let capabilities = cgroup.confinesDevices ? nil : InitConfig.capabilitiesWithoutMknod
            initProcess = try InitProcess(config: InitConfig.run(record, rootfs: dir(id) + "/rootfs", upper: dir(id) + "/upper",
                                                                 work: dir(id) + "/work", files: files, netns: try netns(record),
                                                                 capabilities: capabilities),
                                          stdio: stdio)
        } catch {
            return fail(error, code: 125)
        }
        let forwarding = SignalForwarder(to: initProcess.pid)
        defer { forwarding.cancel() }
        var exitCode: Int32?
        var failure: String?
        loop: while let message = initProcess.next() {
            switch message {
            case .namespaces(let pid):
                do {
                    try cgroup.add(pid: pid)
                    if isBridge(record.network.mode) {
                        let attachment = try engine.networks.attach(container: id, pid: pid, network: record.network.mode,
                                                                    ports: record.network.ports) { attachment in
                            record = try engine.containers.update(id) { $0.network = attachment }
                        }
                        _ = try writeFiles(record, address: attachment.address)
                    }
                    try initProcess.proceed()
                } catch {
                    kill(initProcess.pid, SIGKILL)
                    _ = initProcess.wait()
                    return fail(error, code: 125)
                }
            case .started(let pid):
                do {
                    record = try engine.containers.update(id) { record in
                        record.pid = pid
                        record.pidStartTime = ProcessStat.startTime(of: pid)
                        record.startedAt = Date()
                        try record.transition(to: .running)
                    }
                } catch {
                    kill(pid, SIGKILL)
                    _ = initProcess.wait()
                    return fail(error, code: 125)
                }
            case .running:
                reported = true
                started(.success(record))
            case .exited(let code):
                exitCode = code
                break loop
            case .failed(let message):
                failure = message
                break loop
            }
        }
        let status = initProcess.wait()
        if let failure {
            return fail(EngineError.initFailed(failure), code: status == 0 ? 125 : status)
        }
        let code = exitCode ?? status
        engine.finish(id, exitCode: code)
        return code
    }

    private func dir(_ id: String) -> String { engine.paths.container(id) }

    private func isBridge(_ mode: String) -> Bool {
        !["none", "host"].contains(mode) && !mode.hasPrefix("container:")
    }

    private func netns(_ record: ContainerRecord) throws -> String {
        switch record.network.mode {
        case "host": return "host"
        case let mode where mode.hasPrefix("container:"):
            let target = try engine.containers.find(String(mode.dropFirst("container:".count)))
            guard target.state == .running, engine.isAlive(target), let pid = target.pid else {
                throw EngineError.containerNotRunning(target.name)
            }
            return "/proc/\(pid)/ns/net"
        default: return "new"
        }
    }

    /// `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` for the container, bound in by the init.
    private func writeFiles(_ record: ContainerRecord, address: String?) throws -> [(String, String)] {
        let base = dir(record.id)
        var hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        hosts += "\(address ?? "127.0.1.1")\t\(record.hostname)\n"
        let hostResolv = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
        // A loopback resolver of the host is unreachable from another network namespace.
        let resolv = isBridge(record.network.mode) || record.network.mode == "none"
            ? hostResolv.split(separator: "\n").filter { !$0.hasPrefix("nameserver 127.") }.joined(separator: "\n") + "\n"
            : hostResolv
        let files = [("hosts", hosts), ("hostname", record.hostname + "\n"), ("resolv.conf", resolv)]
        for (name, content) in files {
            try POSIX.writeFileAtomically(base + "/" + name, Array(content.utf8), durable: false)
        }
        return files.map { (base + "/" + $0.0, "/etc/" + $0.0) }
    }
}

/// Forwards the signals a supervisor receives to the container's init, which passes them on.
final class SignalForwarder: @unchecked Sendable {
    // @unchecked: `sources` is written once in init and only read by `cancel`.
    private var sources: [any DispatchSourceSignal] = []
    static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]

    init(to pid: pid_t) {
        for number in SignalForwarder.forwarded {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { kill(pid, number) }
            source.resume()
            sources.append(source)
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
        for number in SignalForwarder.forwarded { signal(number, SIG_DFL) }
    }
}
