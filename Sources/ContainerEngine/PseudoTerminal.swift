import Dispatch
import CLinuxShim
import Foundation
import ImageStore
import SystemSupport

/// A pseudo-terminal for `-t`: the container gets the slave side, and `berth` copies bytes
/// between its own terminal and the master side (raw mode while it runs).
public final class PseudoTerminal: @unchecked Sendable {
    // @unchecked: the descriptors are fixed at init; the copying threads only read/write them.
    public let master: Int32
    public let slave: Int32
    private var saved = termios()
    private var rawMode = false
    private let drained = DispatchSemaphore(value: 0)

    public init() throws {
        var pair: (Int32, Int32) = (-1, -1)
        guard berth_open_pty(&pair.0, &pair.1) == 0 else { throw SystemError("posix_openpt", "/dev/ptmx") }
        (master, slave) = pair
        var size = winsize()
        if ioctl(STDIN_FILENO, UInt(TIOCGWINSZ), &size) == 0 { _ = ioctl(master, UInt(TIOCSWINSZ), &size) }
    }

    /// Starts copying stdin -> master and master -> stdout; puts our terminal in raw mode.
    public func startCopying(stdin: Bool) {
        if stdin && isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &saved) == 0 {
            var raw = saved
            cfmakeraw(&raw)
            rawMode = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0
        }
        let master = self.master
        if stdin { Thread.detachNewThread { PseudoTerminal.copy(from: STDIN_FILENO, to: master) } }
        let drained = self.drained
        Thread.detachNewThread {
            PseudoTerminal.copy(from: master, to: STDOUT_FILENO)
            drained.signal()
        }
    }

    /// Closes our copy of the slave (the container holds its own) and restores the terminal.
    public func closeSlave() { close(slave) }

    /// Waits (briefly) for the output the container left on the master, then restores the terminal.
    public func finish() {
        _ = drained.wait(timeout: .now() + 1)
        if rawMode { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
    }

    private static func copy(from source: Int32, to target: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = read(source, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            var offset = 0
            while offset < n {
                let w = buffer[offset..<n].withUnsafeBytes { write(target, $0.baseAddress, $0.count) }
                if w < 0 && errno == EINTR { continue }
                guard w > 0 else { return }
                offset += w
            }
        }
    }
}
