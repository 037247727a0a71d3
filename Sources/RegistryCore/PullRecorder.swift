import Foundation
import OCI

/// Decides when a tag's pull time is written: at most once a minute per tag, never once per pull.
///
/// `@unchecked Sendable`: `written` is only touched under `lock`.
final class PullRecorder: @unchecked Sendable {
    static let interval: Int64 = 60
    private let lock = NSLock()
    private var written: [String: Int64] = [:]

    /// True when the pull at `now` should be recorded (and remembers that it was).
    func shouldRecord(_ tag: Tag, in repository: RepositoryName, now: Int64) -> Bool {
        let key = "\(repository.value):\(tag.value)"
        return lock.withLock {
            if let last = written[key], now - last < Self.interval { return false }
            // Bounded: forget everything rather than grow without end (a rewrite now and then).
            if written.count > 100_000 { written.removeAll(keepingCapacity: true) }
            written[key] = now
            return true
        }
    }
}
