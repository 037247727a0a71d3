import ArgumentParser
import ContainerEngine
import Foundation
import ImageStore
import OCI
import RegistryClient

/// `berth run IMAGE [CMD...]`: runs a container from an image, pulling it first if needed.
/// Exit status: the container's; 125 for the engine's own errors, 126/127 when the command
/// cannot be executed, 137 when killed (as docker).
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run a command in a new container.")

    @Flag(help: "Remove the container when it exits.") var rm = false
    @Flag(name: [.customShort("d"), .long], help: "Run in the background and print the container ID.") var detach = false
    @Option(help: "Name of the container.") var name: String?
    @Flag(name: [.customShort("i"), .long], help: "Keep stdin open.") var interactive = false
    @Flag(name: [.customShort("t"), .long], help: "Allocate a pseudo-terminal.") var tty = false
    @Option(name: [.customShort("e"), .customLong("env")], help: "Set an environment variable (K=V, or K to copy ours).") var env: [String] = []
    @Option(name: .customLong("env-file"), help: "Read environment variables from a file.") var envFile: [String] = []
    @Option(name: [.customShort("w"), .customLong("workdir")], help: "Working directory inside the container.") var workdir: String?
    @Option(name: [.customShort("u"), .customLong("user")], help: "UID[:GID] or NAME[:GROUP].") var user: String?
    @Option(help: "Host name of the container.") var hostname: String?
    @Option(help: "Override the image's entrypoint.") var entrypoint: String?
    @Option(name: [.customShort("v"), .customLong("volume")], help: "Bind mount HOST:CONTAINER[:ro].") var volume: [String] = []
    @Flag(name: .customLong("read-only"), help: "Mount the root filesystem read-only.") var readOnly = false
    @Option(name: [.customShort("m"), .customLong("memory")], help: "Memory limit (e.g. 64m).") var memory: String?
    @Option(help: "CPU quota in CPUs (e.g. 0.5).") var cpus: Double?
    @Option(name: .customLong("pids-limit"), help: "Maximum number of processes.") var pidsLimit: Int?
    @Option(name: [.customLong("network"), .customLong("net")], help: "none, host, bridge, container:NAME or a network name.") var network = "bridge"
    @Option(name: [.customShort("p"), .customLong("publish")], help: "Publish [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp].") var publish: [String] = []
    @OptionGroup var registry: RegistryOptions

    @Argument(help: "Image to run.") var image: String
    @Argument(parsing: .captureForPassthrough, help: "Command and arguments (default: the image's).") var command: [String] = []

    func run() async throws {
        let spec: ContainerSpec
        let reference: ImageReference
        do {
            reference = try parseReference(image)
            spec = try makeSpec()
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(125)
        }
        let code = try await withEngineContext(registry.security, failureStatus: 125) { context, engine in
            let descriptor = try await context.localImage(reference, pullingWith: engine.store)
            let record = try engine.create(spec, image: descriptor)
            if spec.detached {
                if let failure = try MonitorLauncher.launch(id: record.id) { throw failure }
                print(record.id)
                return Int32(0)
            }
            return try Run.foreground(record, engine: engine, interactive: spec.interactive)
        }
        if code != 0 { throw ExitCode(code) }
    }

    /// Supervises the container from this process, with the terminal or our stdio.
    static func foreground(_ record: ContainerRecord, engine: ContainerEngine, interactive: Bool) throws -> Int32 {
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devNull) }
        let terminal = record.process.tty ? try PseudoTerminal() : nil
        let stdio = terminal.map { ($0.slave, $0.slave, $0.slave) } ?? (interactive ? STDIN_FILENO : devNull, STDOUT_FILENO, STDERR_FILENO)
        var startError: (any Error)?
        let code = ContainerRunner(engine: engine).run(record.id, stdio: stdio) { result in
            if case .failure(let error) = result { startError = error }
            if let terminal {
                terminal.closeSlave()
                terminal.startCopying(stdin: interactive)
            }
        }
        terminal?.finish()
        if let startError { Terminal.error("\(startError)") }
        return code
    }

    private func makeSpec() throws -> ContainerSpec {
        var spec = ContainerSpec(image: image)
        spec.command = command
        spec.entrypoint = entrypoint
        spec.name = name
        spec.workdir = workdir
        spec.user = user
        spec.hostname = hostname
        spec.readOnly = readOnly
        spec.network = network
        spec.tty = tty
        spec.interactive = interactive
        spec.autoRemove = rm
        spec.detached = detach
        if let workdir, !workdir.hasPrefix("/") { throw EngineError.invalidOption("-w \(workdir): must be an absolute path") }
        for file in envFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw EngineError.invalidOption("--env-file \(file): cannot be read")
            }
            for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.trimmingCharacters(in: .whitespaces).isEmpty {
                spec.env.append(Run.expand(String(line)))
            }
        }
        spec.env += env.map(Run.expand)
        spec.mounts = try volume.map(ContainerSpec.parseVolume)
        spec.ports = try publish.map(PortMapping.init(parsing:))
        spec.limits = .init(memoryBytes: try memory.map(ContainerSpec.parseBytes), cpus: cpus, pids: pidsLimit)
        if let cpus, cpus <= 0 { throw EngineError.invalidOption("--cpus must be positive") }
        if let pidsLimit, pidsLimit <= 0 { throw EngineError.invalidOption("--pids-limit must be positive") }
        return spec
    }

    /// `-e NAME` copies our value, as docker does.
    static func expand(_ entry: String) -> String {
        if entry.contains("=") { return entry }
        return ProcessInfo.processInfo.environment[entry].map { entry + "=" + $0 } ?? entry
    }
}

/// `berth container-monitor ID` (hidden): supervises a detached container, its output going
/// to the container's log file.
struct ContainerMonitor: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "container-monitor", shouldDisplay: false)

    @Argument var id: String

    func run() throws {
        let engine = try ContainerEngine(store: ImageStore(root: ImageStore.defaultRoot()))
        let log = open(engine.paths.container(id) + "/container.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard log >= 0, devNull >= 0 else {
            MonitorLauncher.report("cannot open the container's log")
            throw ExitCode(125)
        }
        var failure: String?
        let code = ContainerRunner(engine: engine).run(id, stdio: (devNull, log, log)) { result in
            switch result {
            case .success: MonitorLauncher.report("ok")
            case .failure(let error): failure = "\(error)"
            }
        }
        // A failed start is reported with the status it ended with (126/127 for exec failures).
        if let failure { MonitorLauncher.report("\(code) \(failure)") }
        throw ExitCode(code)
    }
}
