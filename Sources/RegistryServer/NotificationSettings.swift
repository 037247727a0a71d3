import Foundation
import RegistryCore
import ServerConfiguration

/// `notifications`: where events are delivered, in Distribution's keys, plus Berth's `maxbackoff`.
public struct NotificationSettings: Sendable {
    /// One receiver of events.
    public struct Endpoint: Sendable {
        public var name: String
        public var url: URL
        public var headers: [(String, [String])] = []
        /// How long one delivery may take.
        public var timeout: TimeInterval = 1
        /// Failures in a row after which the endpoint is reported failing (metrics, logs).
        public var threshold = 10
        /// The first retry delay, doubled after each failure up to `maxBackoff`.
        public var backoff: TimeInterval = 1
        public var maxBackoff: TimeInterval = 300
        /// Target media types whose events are not sent (`ignoredmediatypes` and `ignore.mediatypes`).
        public var ignoredMediaTypes: Set<String> = []
        public var ignoredActions: Set<String> = []
    }

    /// The actions an event can carry, and the names `ignore.actions` takes.
    public static let actions: Set<String> = ["push", "pull", "mount", "delete"]

    /// `notifications.events.includereferences`: list a manifest's references in its events.
    public var includeReferences = false
    /// Enabled endpoints only.
    public var endpoints: [Endpoint] = []

    public init() {}

    static func read(from tree: inout ConfigurationTree) -> NotificationSettings {
        var settings = NotificationSettings()
        settings.includeReferences = tree.bool("notifications.events.includereferences", default: settings.includeReferences)
        var names: Set<String> = []
        for index in 0..<tree.count("notifications.endpoints") {
            let key = "notifications.endpoints[\(index)]"
            tree.reportUnknownKeys(in: key, allowed: ["name", "disabled", "url", "headers", "timeout", "threshold", "backoff",
                                                      "maxbackoff", "ignoredmediatypes", "ignore"], refuse: false)
            tree.reportUnknownKeys(in: "\(key).ignore", allowed: ["mediatypes", "actions"], refuse: false)
            guard let name = tree.string("\(key).name"), !name.isEmpty else { tree.problem("\(key).name: required"); continue }
            if !names.insert(name).inserted { tree.problem("\(key).name: \"\(name.prefix(100))\" is used by another endpoint") }
            let text = tree.string("\(key).url") ?? ""
            guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                tree.problem("\(key).url: expected an http or https URL, got \"\(text.prefix(200))\"")
                continue
            }
            var endpoint = Endpoint(name: name, url: url)
            endpoint.headers = tree.headers("\(key).headers")
            endpoint.timeout = tree.duration("\(key).timeout", default: endpoint.timeout)
            endpoint.threshold = tree.integer("\(key).threshold", default: endpoint.threshold, in: 0...100_000,
                                              expected: "a whole number of failures")
            endpoint.backoff = tree.duration("\(key).backoff", default: endpoint.backoff)
            endpoint.maxBackoff = tree.duration("\(key).maxbackoff", default: endpoint.maxBackoff)
            if endpoint.timeout <= 0 { tree.problem("\(key).timeout: must be positive") }
            if endpoint.backoff <= 0 { tree.problem("\(key).backoff: must be positive") }
            if endpoint.maxBackoff < endpoint.backoff { tree.problem("\(key).maxbackoff: must not be shorter than backoff") }
            endpoint.ignoredMediaTypes = Set(tree.strings("\(key).ignoredmediatypes") + tree.strings("\(key).ignore.mediatypes"))
            for action in tree.strings("\(key).ignore.actions") {
                if actions.contains(action) {
                    endpoint.ignoredActions.insert(action)
                } else {
                    tree.problem("\(key).ignore.actions: unknown action \"\(action.prefix(50))\" (use push, pull, mount or delete)")
                }
            }
            if !tree.bool("\(key).disabled", default: false) { settings.endpoints.append(endpoint) }
        }
        return settings
    }
}
