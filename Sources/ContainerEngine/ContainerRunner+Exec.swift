import Foundation

extension ContainerRunner {
    /// Runs `args` inside running container `record` (its namespaces and cgroups) with the
    /// container's environment and user unless overridden; returns the exit status.
    public func exec(_ record: ContainerRecord, args: [String], env: [String], tty: Bool,
                     stdio: (Int32, Int32, Int32), spawned: () -> Void = {}) throws -> Int32 {
        guard record.state == .running, engine.isAlive(record), let pid = record.pid else {
            throw EngineError.containerNotRunning(record.name)
        }
        var process = record.process
        process.args = args
        process.tty = tty
        var environment = Environment(process.env)
        for entry in env { environment.set(entry) }
        process.env = environment.entries
        let capabilities = ContainerCgroup(id: record.id).confinesDevices ? nil : InitConfig.capabilitiesWithoutMknod
        let initProcess = try InitProcess(config: InitConfig.exec(pid: pid, process: process, capabilities: capabilities),
                                          stdio: stdio)
        spawned()
        let forwarding = SignalForwarder(to: initProcess.pid)
        defer { forwarding.cancel() }
        while let message = initProcess.next() {
            switch message {
            case .namespaces(let joined):
                do {
                    try ContainerCgroup(id: record.id).add(pid: joined)
                    try initProcess.proceed()
                } catch {
                    kill(initProcess.pid, SIGKILL)
                    _ = initProcess.wait()
                    throw error
                }
            case .started, .running:
                continue
            case .exited(let code):
                _ = initProcess.wait()
                return code
            case .failed(let message):
                let status = initProcess.wait()
                throw ExecFailure(message: message, status: status == 0 ? 125 : status)
            }
        }
        return initProcess.wait()
    }
}

/// The command could not be run in the container; `status` is 125, 126 or 127 as docker's.
public struct ExecFailure: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let status: Int32

    public init(message: String, status: Int32) {
        self.message = message
        self.status = status
    }

    public var description: String { message }
}
