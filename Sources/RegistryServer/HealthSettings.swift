import Foundation
import ServerConfiguration

/// `health`: the checks behind `/debug/health`; while one fails, the API answers 503.
public struct HealthSettings: Sendable {
    /// How often a check runs and how many failures in a row mark it failed.
    public struct Schedule: Sendable, Equatable {
        public var interval: TimeInterval = 10
        public var threshold = 1
    }

    /// `health.storagedriver`.
    public struct StorageCheck: Sendable {
        public var enabled = false
        public var schedule = Schedule()
    }

    /// `health.file[]`: failed while the file exists.
    public struct FileCheck: Sendable {
        public var path: String
        public var schedule = Schedule()
    }

    /// `health.http[]`: a `HEAD` that must answer `statusCode` within `timeout`.
    public struct HTTPCheck: Sendable {
        public var uri: String
        public var headers: [(String, [String])] = []
        public var statusCode = 200
        public var timeout: TimeInterval = 5
        public var schedule = Schedule()
    }

    /// `health.tcp[]`: a connection that must open within `timeout`.
    public struct TCPCheck: Sendable {
        public var address: String
        public var timeout: TimeInterval = 5
        public var schedule = Schedule()
    }

    public var storage = StorageCheck()
    public var files: [FileCheck] = []
    public var http: [HTTPCheck] = []
    public var tcp: [TCPCheck] = []

    public init() {}

    /// Whether any check is configured.
    public var isEmpty: Bool { !storage.enabled && files.isEmpty && http.isEmpty && tcp.isEmpty }

    static func read(from tree: inout ConfigurationTree) -> HealthSettings {
        var settings = HealthSettings()
        settings.storage.enabled = tree.bool("health.storagedriver.enabled", default: settings.storage.enabled)
        settings.storage.schedule = schedule("health.storagedriver", &tree)
        for index in 0..<tree.count("health.file") {
            let key = "health.file[\(index)]"
            tree.reportUnknownKeys(in: key, allowed: ["file", "interval", "threshold"], refuse: false)
            guard let path = tree.string("\(key).file") else { tree.problem("\(key).file: required"); continue }
            settings.files.append(FileCheck(path: path, schedule: schedule(key, &tree)))
        }
        for index in 0..<tree.count("health.http") {
            let key = "health.http[\(index)]"
            tree.reportUnknownKeys(in: key, allowed: ["uri", "headers", "statuscode", "timeout", "interval", "threshold"],
                                   refuse: false)
            guard let uri = tree.string("\(key).uri") else { tree.problem("\(key).uri: required"); continue }
            guard let url = URL(string: uri), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                tree.problem("\(key).uri: expected an http or https URL, got \"\(uri.prefix(200))\"")
                continue
            }
            var check = HTTPCheck(uri: uri, schedule: schedule(key, &tree))
            check.statusCode = tree.integer("\(key).statuscode", default: check.statusCode, in: 100...599,
                                            expected: "an HTTP status code")
            check.timeout = tree.duration("\(key).timeout", default: check.timeout)
            check.headers = tree.headers("\(key).headers")
            settings.http.append(check)
        }
        for index in 0..<tree.count("health.tcp") {
            let key = "health.tcp[\(index)]"
            tree.reportUnknownKeys(in: key, allowed: ["addr", "timeout", "interval", "threshold"], refuse: false)
            guard let address = tree.string("\(key).addr") else { tree.problem("\(key).addr: required"); continue }
            guard ListenAddress(address) != nil else {
                tree.problem("\(key).addr: expected host:port, got \"\(address.prefix(200))\"")
                continue
            }
            var check = TCPCheck(address: address, schedule: schedule(key, &tree))
            check.timeout = tree.duration("\(key).timeout", default: check.timeout)
            settings.tcp.append(check)
        }
        return settings
    }

    private static func schedule(_ key: String, _ tree: inout ConfigurationTree) -> Schedule {
        var schedule = Schedule()
        schedule.interval = tree.duration("\(key).interval", default: schedule.interval)
        if schedule.interval <= 0 { tree.problem("\(key).interval: must be positive") }
        // Distribution treats 0 as "fail on the first failure".
        schedule.threshold = max(1, tree.integer("\(key).threshold", default: schedule.threshold, in: 0...1000,
                                                 expected: "a whole number of failures"))
        return schedule
    }
}
