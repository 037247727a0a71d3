import Logging
import ServerConfiguration

/// `log`: how much berth-registry logs and in which format.
public struct LogSettings: Sendable {
    /// `log.level`: error, warn, info or debug.
    public var level: Logger.Level = .info
    /// `log.formatter`: text, json or logstash (logstash is written as json).
    public var formatter = "text"
    /// `log.accesslog.disabled` inverted: one line per request unless disabled, as in Distribution.
    public var accessLog = true

    public init() {}

    static func read(from tree: inout ConfigurationTree) -> LogSettings {
        var settings = LogSettings()
        let level = tree.string("log.level", default: "info") ?? "info"
        switch level.lowercased() {
        case "error": settings.level = .error
        case "warn", "warning": settings.level = .warning
        case "info": settings.level = .info
        case "debug": settings.level = .debug
        default: tree.problem("log.level: expected error, warn, info or debug, got \"\(level)\"")
        }
        settings.formatter = tree.string("log.formatter", default: settings.formatter) ?? settings.formatter
        if !["text", "json", "logstash"].contains(settings.formatter) {
            tree.problem("log.formatter: expected text or json, got \"\(settings.formatter)\"")
        }
        settings.accessLog = !tree.bool("log.accesslog.disabled", default: !settings.accessLog)
        return settings
    }
}
