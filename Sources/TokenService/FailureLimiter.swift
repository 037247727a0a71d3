import Foundation

/// Slows down password guessing: after `burst` failures within a minute from one account or one
/// client address, further attempts are refused with 429 until the window has room again
/// (`perMinute` failures are forgiven per minute).
///
/// `@unchecked Sendable`: `failures` is only touched under `lock`.
public final class FailureLimiter: @unchecked Sendable {
    private let burst: Int
    private let perMinute: Int
    private let lock = NSLock()
    /// Key -> (failure count, time of the last decay).
    private var failures: [String: (count: Double, updated: Date)] = [:]

    public init(burst: Int, perMinute: Int) {
        self.burst = burst
        self.perMinute = perMinute
    }

    /// True when any of `keys` has used up its burst.
    public func isLimited(_ keys: [String]) -> Bool {
        lock.withLock { keys.contains { decayed($0) > Double(burst - 1) } }
    }

    public func recordFailure(_ keys: [String]) {
        lock.withLock {
            if failures.count > 100_000 { failures.removeAll() }
            for key in keys { failures[key] = (decayed(key) + 1, Date()) }
        }
    }

    /// Leaky bucket: the count drains at `perMinute` per minute. Call under `lock`.
    private func decayed(_ key: String) -> Double {
        guard let entry = failures[key] else { return 0 }
        let drained = Date().timeIntervalSince(entry.updated) / 60 * Double(perMinute)
        return max(0, entry.count - drained)
    }
}
