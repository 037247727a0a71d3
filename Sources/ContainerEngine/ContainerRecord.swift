import Foundation
import OCI

/// Everything the engine knows about one container, persisted as `container.json`.
public struct ContainerRecord: Codable, Sendable {
    /// What the process inside runs as and with.
    public struct Process: Codable, Sendable {
        public var args: [String]
        public var env: [String]
        public var cwd: String
        public var uid: UInt32
        public var gid: UInt32
        public var groups: [UInt32]
        public var tty: Bool
    }

    /// Resource limits (cgroups); nil means unlimited.
    public struct Limits: Codable, Sendable {
        public var memoryBytes: Int64?
        public var cpus: Double?
        public var pids: Int?

        public init(memoryBytes: Int64? = nil, cpus: Double? = nil, pids: Int? = nil) {
            self.memoryBytes = memoryBytes
            self.cpus = cpus
            self.pids = pids
        }
    }

    /// A bind mount `-v HOST:CTR[:ro]`.
    public struct Mount: Codable, Sendable, Equatable {
        public var source: String
        public var destination: String
        public var readOnly: Bool
    }

    /// Where the container is attached.
    public struct Attachment: Codable, Sendable {
        /// `none`, `host`, `container:<id>` or a bridge network's name.
        public var mode: String
        public var address: String?
        public var gateway: String?
        public var prefixLength: Int?
        public var hostInterface: String?
        public var ports: [PortMapping]
    }

    public var id: String
    public var name: String
    public var image: String
    public var imageDigest: String
    public var created: Date
    public var hostname: String
    public var process: Process
    public var lowerDirs: [String]
    public var readOnly: Bool
    public var mounts: [Mount]
    public var limits: Limits
    public var network: Attachment
    public var autoRemove: Bool
    public var detached: Bool

    public private(set) var state: ContainerState = .created
    /// Host pid of the container's PID 1 while it runs, and its start time (clock ticks after
    /// boot, /proc/PID/stat field 22), which tells the process apart from a later one that
    /// reuses the pid.
    public var pid: Int32?
    public var pidStartTime: UInt64?
    /// Host pid of the supervising process (`berth run` or its monitor).
    public var monitorPid: Int32?
    public var monitorStartTime: UInt64?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var exitCode: Int32?
    /// Why the start failed, when it did.
    public var error: String?

    /// Moves to `next`, or throws naming both states.
    public mutating func transition(to next: ContainerState) throws {
        guard state.allows(next) else { throw EngineError.illegalTransition(from: state, to: next, container: id) }
        state = next
    }

    public var shortID: String { String(id.prefix(12)) }
}
