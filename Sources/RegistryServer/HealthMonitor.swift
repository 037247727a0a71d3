import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import RegistryStorage
import ServerConfiguration
import ServiceLifecycle
import Synchronization

/// Runs the `health` checks on their schedules and keeps what `/debug/health` reports; while a
/// check fails, the API answers 503 so a load balancer takes the node out.
///
/// Checks are named as Distribution names them. Each is failed after `threshold` failures in a
/// row and passes again after its first success. Blocking work (the storage probe, `stat` of a
/// maintenance file) runs on a thread pool, never on an event loop or the cooperative pool.
final class HealthMonitor: Service, Sendable {
    struct Check: Sendable {
        let name: String
        let schedule: HealthSettings.Schedule
        let probe: @Sendable () async throws -> Void
    }

    private let checks: [Check]
    private let failing = Mutex<[String: String]>([:])
    private let healthy = Atomic<Bool>(true)
    private let logger: Logger

    /// What the storage check probes: the filesystem root directly (its errors name the system's
    /// reason), or a driver through its own calls.
    enum StorageProbe {
        case filesystem(root: String)
        case driver(any StorageDriver, name: String)
    }

    init(settings: HealthSettings, storage: StorageProbe, readOnly: Bool, logger: Logger) {
        self.logger = logger
        var checks: [Check] = []
        if settings.storage.enabled {
            switch storage {
            case .filesystem(let root):
                checks.append(Check(name: "storagedriver_filesystem", schedule: settings.storage.schedule) {
                    try await Self.probeStorage(root: root, readOnly: readOnly)
                })
            case .driver(let driver, let name):
                checks.append(Check(name: "storagedriver_\(name)", schedule: settings.storage.schedule) {
                    try await Self.probeStorage(driver, readOnly: readOnly)
                })
            }
        }
        for file in settings.files {
            checks.append(Check(name: file.path, schedule: file.schedule) {
                let exists = try await NIOThreadPool.singleton.runIfActive { FileManager.default.fileExists(atPath: file.path) }
                if exists { throw HealthCheckFailure("file exists") }
            })
        }
        for check in settings.http {
            checks.append(Check(name: check.uri, schedule: check.schedule) { try await Self.probeHTTP(check) })
        }
        for check in settings.tcp {
            checks.append(Check(name: check.address, schedule: check.schedule) { try await Self.probeTCP(check) })
        }
        self.checks = checks
    }

    /// Whether every check passes; read on every API request, so it is one atomic load.
    var isHealthy: Bool { healthy.load(ordering: .relaxed) }

    /// The failing checks and their errors (empty when healthy).
    var failures: [String: String] { failing.withLock { $0 } }

    func run() async throws {
        guard !checks.isEmpty else { return }
        await withDiscardingTaskGroup { group in
            for check in checks {
                group.addTask { await self.watch(check) }
            }
        }
    }

    private func watch(_ check: Check) async {
        var failuresInARow = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await check.probe()
                failuresInARow = 0
                update(check.name, error: nil)
            } catch {
                failuresInARow += 1
                if failuresInARow >= check.schedule.threshold { update(check.name, error: "\(error)") }
            }
            await pause(.milliseconds(Int64(check.schedule.interval * 1000)))
        }
    }

    private func update(_ name: String, error: String?) {
        let changed = failing.withLock { failing -> Bool in
            let before = failing[name]
            failing[name] = error
            healthy.store(failing.isEmpty, ordering: .relaxed)
            return before != error && (before == nil || error == nil)
        }
        guard changed else { return }
        if let error {
            logger.error("health check failing", metadata: ["check": "\(name)", "error": "\(error)"])
        } else {
            logger.info("health check passing again", metadata: ["check": "\(name)"])
        }
    }

    /// Writes, reads back and removes a small file under Berth's own directory of the root (never
    /// under `docker/registry/v2`); read-only, only lists the root.
    static func probeStorage(root: String, readOnly: Bool) async throws {
        try await NIOThreadPool.singleton.runIfActive {
            if readOnly {
                _ = try FileManager.default.contentsOfDirectory(atPath: root)
                return
            }
            let directory = root + "/berth/health"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = directory + "/probe-\(getpid())"
            let token = Array(UUID().uuidString.utf8)
            guard FileManager.default.createFile(atPath: path, contents: Data(token)) else {
                throw HealthCheckFailure("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            defer { unlink(path) }
            guard let back = FileManager.default.contents(atPath: path), Array(back) == token else {
                throw HealthCheckFailure("cannot read back \(path)")
            }
        }
    }

    /// The same probe through a storage driver: write, read back and remove a small object under
    /// Berth's own prefix; read-only, only list it.
    static func probeStorage(_ driver: any StorageDriver, readOnly: Bool) async throws {
        guard !readOnly else {
            _ = try await driver.list(StorageLayout.berthDirectory)
            return
        }
        let path = "\(StorageLayout.berthDirectory)/health/probe-\(UUID().uuidString.lowercased())"
        let token = Array(UUID().uuidString.utf8)
        let writer = try await driver.writer(path, appendingAt: nil)
        do {
            try await writer.write(ByteBuffer(bytes: token))
            try await writer.commit()
        } catch {
            await writer.cancel()
            throw HealthCheckFailure("cannot write \(path): \(error)")
        }
        let back = try await driver.readAll(path, limit: token.count)
        try await driver.delete(path)
        guard back == token else { throw HealthCheckFailure("cannot read back \(path)") }
    }

    /// A refused connection is the answer a health check wants: no retrying of connections (the
    /// shared client would retry until the timeout), no redirects followed.
    static let probeClient: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    static func probeHTTP(_ check: HealthSettings.HTTPCheck) async throws {
        var request = HTTPClientRequest(url: check.uri)
        request.method = .HEAD
        for (name, values) in check.headers { for value in values { request.headers.add(name: name, value: value) } }
        let response = try await probeClient.execute(request, timeout: .milliseconds(Int64(check.timeout * 1000)))
        guard Int(response.status.code) == check.statusCode else {
            throw HealthCheckFailure("downstream service returned unexpected status: \(response.status.code)")
        }
    }

    static func probeTCP(_ check: HealthSettings.TCPCheck) async throws {
        guard let address = ListenAddress(check.address) else { throw HealthCheckFailure("bad address") }
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.milliseconds(Int64(check.timeout * 1000)))
            .connect(host: address.host, port: address.port).get()
        try? await channel.close()
    }
}

/// Why a health check failed, as `/debug/health` shows it.
struct HealthCheckFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
