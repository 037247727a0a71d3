import CLinuxShim
import Foundation
import ImageStore
import SystemSupport

/// Starts the process that supervises a detached container (`berth container-monitor ID`):
/// in its own session, stdio on /dev/null, reporting the start through a pipe.
public enum MonitorLauncher {
    /// Environment variable naming the descriptor on which the monitor reports the start.
    public static let statusEnv = "BERTH_MONITOR_STATUS_FD"

    /// Spawns the monitor for `id` and waits for its report: nil when the container runs,
    /// else why it could not start, with the status `run` exits with (125, 126 or 127).
    public static func launch(id: String) throws -> ExecFailure? {
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else { throw SystemError("pipe", "monitor") }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devNull) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for target in Int32(0)...2 { posix_spawn_file_actions_adddup2(&actions, devNull, target) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 3)
        berth_spawn_close_from(&actions, 4)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, posixSpawnSetsid)
        var environment = ProcessInfo.processInfo.environment
        environment[statusEnv] = "3"
        let argv: [UnsafeMutablePointer<CChar>?] = ["berth", "container-monitor", id].map { (text: String) in strdup(text) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { (key: String, value: String) in strdup(key + "=" + value) } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, argv, envp)
        close(pipeFDs[1])
        defer { close(pipeFDs[0]) }
        guard status == 0 else { throw SystemError("posix_spawn", "berth container-monitor", errno: status) }
        var report: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(pipeFDs[0], &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            report += chunk[..<n]
        }
        let text = String(decoding: report, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text == "ok" { return nil }
        guard !text.isEmpty else {
            return ExecFailure(message: "the container monitor exited before the container started", status: 125)
        }
        // "<status> <message>"
        let parts = text.split(separator: " ", maxSplits: 1)
        if parts.count == 2, let status = Int32(parts[0]) { return ExecFailure(message: String(parts[1]), status: status) }
        return ExecFailure(message: text, status: 125)
    }

    /// glibc's POSIX_SPAWN_SETSID (spawn.h, since 2.26), which the Glibc module does not export:
    /// the monitor gets its own session, so a terminal hang-up does not reach it.
    private static let posixSpawnSetsid: Int16 = 0x80

    /// In the monitor: writes the start report and closes the pipe.
    public static func report(_ text: String) {
        guard let value = ProcessInfo.processInfo.environment[statusEnv], let fd = Int32(value) else { return }
        let bytes = Array((text + "\n").utf8)
        _ = write(fd, bytes, bytes.count)
        close(fd)
    }
}
