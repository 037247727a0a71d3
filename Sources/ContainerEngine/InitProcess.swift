import CLinuxShim
import CContainerInit
import Foundation
import ImageStore
import SystemSupport

/// A running `CContainerInit`: this executable re-spawned with `_BERTH_INIT_FD`, so its
/// constructor builds the namespaces before any Swift thread exists, and the protocol spoken
/// with it over a socketpair (see `Sources/CContainerInit/container_init.c`).
final class InitProcess {
    /// Host pid of the spawned process; after the fork inside, the "intermediate" that
    /// supervises the container and exits with its status.
    let pid: pid_t
    private let socket: Int32
    private var buffered: [UInt8] = []

    /// Spawns the init with `stdio` as its descriptors 0, 1 and 2 and sends `config`.
    init(config: InitConfig, stdio: (Int32, Int32, Int32)) throws {
        _ = berth_container_init_linked()
        let bytes = try config.encoded()
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SystemError("socketpair", "init")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears FD_CLOEXEC on the copies; the child end is fd 3 in the init.
        posix_spawn_file_actions_adddup2(&actions, stdio.0, 0)
        posix_spawn_file_actions_adddup2(&actions, stdio.1, 1)
        posix_spawn_file_actions_adddup2(&actions, stdio.2, 2)
        posix_spawn_file_actions_adddup2(&actions, pair[1], 3)
        berth_spawn_close_from(&actions, 4)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The container must not inherit our ignored or blocked signals.
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("berth-init"), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = [strdup("\(BERTH_INIT_FD_ENV)=3"), nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var child: pid_t = 0
        let program = InitProcess.program
        let status = posix_spawn(&child, program, &actions, &attributes, argv, envp)
        close(pair[1])
        guard status == 0 else {
            close(pair[0])
            throw SystemError("posix_spawn", program, errno: status)
        }
        pid = child
        socket = pair[0]
        do {
            try bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let n = send(socket, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw SystemError("send", "init config") }
                    offset += n
                }
            }
        } catch {
            kill(child, SIGKILL)  // and reap it: no zombie for a failed start
            var status: Int32 = 0
            _ = waitpid(child, &status, 0)
            close(socket)
            throw error
        }
    }

    deinit { close(socket) }

    /// `berth-init` beside this executable (a small C program: starts in about a millisecond),
    /// else this executable itself, whose linked-in constructor does the same work.
    static let program: String = {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 {
            let own = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let helper = (own as NSString).deletingLastPathComponent + "/berth-init"
            if access(helper, X_OK) == 0 { return helper }
        }
        return "/proc/self/exe"
    }()

    /// One message from the init, or nil when it closed the socket.
    enum Message: Equatable {
        case namespaces(pid_t)
        case started(pid_t)
        case running
        case exited(Int32)
        case failed(String)
    }

    func next() -> Message? {
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffered[..<newline]
                buffered.removeSubrange(...newline)
                guard let tag = line.first else { continue }
                let text = String(decoding: line.dropFirst(), as: UTF8.self)
                switch tag {
                case UInt8(ascii: "N"): if let pid = pid_t(text) { return .namespaces(pid) }
                case UInt8(ascii: "P"): if let pid = pid_t(text) { return .started(pid) }
                case UInt8(ascii: "R"): return .running
                case UInt8(ascii: "X"): if let code = Int32(text) { return .exited(code) }
                case UInt8(ascii: "E"): return .failed(text)
                default: break
                }
                continue
            }
            var chunk = [UInt8](repeating: 0, count: 512)
            let n = recv(socket, &chunk, chunk.count, 0)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            buffered += chunk[..<n]
        }
    }

    /// Lets the init go on after `namespaces` (cgroups and network are ready).
    func proceed() throws {
        var go = UInt8(ascii: "G")
        guard send(socket, &go, 1, Int32(MSG_NOSIGNAL)) == 1 else { throw SystemError("send", "init go") }
    }

    /// Reaps the init; its status is the container's (or 125 for the engine's own failures).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 125 }
        }
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }
}
