import ArgumentParser
import ContainerEngine
import Foundation
import ImageStore

/// `berth ps [-a]`: running containers (all with -a).
struct Ps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers.")

    @Flag(name: [.short, .long], help: "Show all containers (default: running ones).") var all = false
    @Flag(name: [.short, .long], help: "Print only IDs.") var quiet = false

    func run() async throws {
        let (all, quiet) = (self.all, self.quiet)
        try await withEngineContext { _, engine in
            let records = try engine.containers.all().filter { all || $0.state == .running }
            if quiet { records.forEach { print($0.shortID) }; return }
            var rows = [["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]]
            for record in records {
                let command = record.process.args.joined(separator: " ")
                rows.append([record.shortID, record.image, "\"\(command.prefix(20))\"", Ps.ago(record.created) + " ago",
                             Ps.status(record), record.network.ports.map(\.description).joined(separator: ", "), record.name])
            }
            printTable(rows)
        }
    }

    static func status(_ record: ContainerRecord) -> String {
        switch record.state {
        case .running: return "Up " + ago(record.startedAt ?? record.created)
        case .exited: return "Exited (\(record.exitCode ?? -1)) " + ago(record.finishedAt ?? record.created) + " ago"
        default: return record.state.description.capitalized
        }
    }

    static func ago(_ date: Date) -> String {
        let seconds = Int(Date().timeIntervalSince(date))
        switch seconds {
        case ..<60: return "\(max(seconds, 1)) second\(seconds == 1 ? "" : "s")"
        case ..<3600: return "\(seconds / 60) minutes"
        case ..<86400: return "\(seconds / 3600) hours"
        default: return "\(seconds / 86400) days"
        }
    }
}

/// Prints rows as left-aligned columns.
func printTable(_ rows: [[String]]) {
    guard let width = rows.first?.count else { return }
    let widths = (0..<width).map { column in rows.map { $0[column].count }.max() ?? 0 }
    for row in rows {
        print(row.enumerated().map { $0.offset == width - 1 ? $0.element : $0.element.padding(toLength: widths[$0.offset] + 3, withPad: " ", startingAt: 0) }.joined())
    }
}

/// `berth stop [-t SECONDS] NAME...`: SIGTERM, then SIGKILL after the grace period.
struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop running containers.")

    @Option(name: [.customShort("t"), .customLong("time")], help: "Seconds to wait before killing.") var time: Double = 10
    @Argument(help: "Containers (name or ID).") var names: [String]

    func run() async throws {
        let (time, names) = (self.time, self.names)
        try await withEngineContext { _, engine in
            for name in names {
                try engine.stop(try engine.containers.find(name), timeout: time)
                print(name)
            }
        }
    }
}

/// `berth kill [-s SIGNAL] NAME...`.
struct Kill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Send a signal to running containers.")

    @Option(name: [.customShort("s"), .customLong("signal")], help: "Signal name or number.") var signal = "KILL"
    @Argument(help: "Containers (name or ID).") var names: [String]

    func run() async throws {
        guard let number = SignalName.number(signal) else { throw ValidationError("unknown signal \(signal)") }
        let names = self.names
        try await withEngineContext { _, engine in
            for name in names {
                try engine.signal(try engine.containers.find(name), number)
                print(name)
            }
        }
    }
}

/// `berth rm [-f] NAME...`: removes containers and everything they added to the host.
struct Rm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove containers.")

    @Flag(name: [.short, .long], help: "Kill a running container first.") var force = false
    @Argument(help: "Containers (name or ID).") var names: [String]

    func run() async throws {
        let (force, names) = (self.force, self.names)
        try await withEngineContext { _, engine in
            for name in names {
                try engine.remove(try engine.containers.find(name), force: force)
                print(name)
            }
        }
    }
}

/// `berth logs [-f] NAME`: output of a detached container.
struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Show a detached container's output.")

    @Flag(name: [.short, .long], help: "Follow the output until the container exits.") var follow = false
    @Argument(help: "Container (name or ID).") var name: String

    func run() async throws {
        let (follow, name) = (self.follow, self.name)
        try await withEngineContext { _, engine in
            let record = try engine.containers.find(name)
            let fd = open(engine.paths.container(record.id) + "/container.log", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            var finished = false
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n > 0 {
                    FileHandle.standardOutput.write(Data(buffer[..<n]))
                    continue
                }
                guard follow, !finished else { break }
                if let latest = try? engine.containers.load(id: record.id), latest.state == .running, engine.isAlive(latest) {
                    usleep(100_000)
                } else {
                    finished = true  // one more read: what it wrote just before it exited
                }
            }
        }
    }
}

/// `berth exec [-i] [-t] NAME CMD...`: runs a command in a running container.
struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Run a command in a running container.")

    @Flag(name: [.customShort("i"), .long], help: "Keep stdin open.") var interactive = false
    @Flag(name: [.customShort("t"), .long], help: "Allocate a pseudo-terminal.") var tty = false
    @Option(name: [.customShort("e"), .customLong("env")], help: "Set an environment variable.") var env: [String] = []
    @Argument(help: "Container (name or ID).") var name: String
    @Argument(parsing: .captureForPassthrough, help: "Command and arguments.") var command: [String] = []

    func run() async throws {
        guard !command.isEmpty else { throw ValidationError("exec needs a command") }
        let (interactive, tty, env, name, command) = (self.interactive, self.tty, self.env.map(Run.expand), self.name, self.command)
        let code = try await withEngineContext(failureStatus: 125) { _, engine in
            let record = try engine.containers.find(name)
            let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
            defer { close(devNull) }
            let terminal = tty ? try PseudoTerminal() : nil
            let stdio = terminal.map { ($0.slave, $0.slave, $0.slave) } ?? (interactive ? STDIN_FILENO : devNull, STDOUT_FILENO, STDERR_FILENO)
            if let terminal {
                // The init holds its own copy once spawned; ours would keep the pty open after it exits.
                defer { terminal.finish() }
                let code = try ContainerRunner(engine: engine).exec(record, args: command, env: env, tty: true, stdio: stdio,
                                                                    spawned: { terminal.closeSlave(); terminal.startCopying(stdin: interactive) })
                return code
            }
            return try ContainerRunner(engine: engine).exec(record, args: command, env: env, tty: false, stdio: stdio)
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// Signal names as `kill -s` takes them (with or without `SIG`) or numbers.
enum SignalName {
    static let table: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "KILL": SIGKILL, "USR1": SIGUSR1, "USR2": SIGUSR2,
        "TERM": SIGTERM, "STOP": SIGSTOP, "CONT": SIGCONT, "ALRM": SIGALRM, "WINCH": SIGWINCH, "PIPE": SIGPIPE,
    ]

    static func number(_ text: String) -> Int32? {
        if let number = Int32(text), (1...64).contains(number) { return number }
        let upper = text.uppercased()
        return table[upper.hasPrefix("SIG") ? String(upper.dropFirst(3)) : upper]
    }
}

/// `berth inspect NAME` for containers: the record as JSON, when NAME names one.
enum ContainerInspection {
    static func find(_ key: String) -> String? {
        guard let store = try? ContainerStore(paths: EnginePaths(root: ImageStore.defaultRoot())),
              let record = try? store.find(key) else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(record)).map { String(decoding: $0, as: UTF8.self) }
    }
}
