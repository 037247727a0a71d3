/// A lock on work that one process at a time may do among all those sharing a metadata store:
/// a garbage-collection sweep, or the deliveries to one notification endpoint (whose order
/// would not hold with two senders). Taken with `MetadataStore.tryLock`.
///
/// A process that dies loses its locks at once, so work killed midway never keeps the other
/// nodes waiting: the kernel drops a dead process's `flock` (SQLite), and PostgreSQL drops the
/// advisory locks of a session whose connection closed.
public protocol ExclusiveLock: AnyObject, Sendable {
    /// The lock's name, as given to `tryLock`.
    var name: String { get }
    /// Whether the lock is still held. False once it may have been lost (in PostgreSQL, its
    /// connection broke and another node may hold it now): the holder stops its work.
    func isHeld() async -> Bool
    /// Gives the lock up; doing so twice, or after it was lost, does nothing.
    func release() async
}

/// The names of the locks the registry takes.
public enum ExclusiveWork {
    /// Garbage-collection sweeps (and the retention they apply).
    public static let garbageCollection = "gc-sweep"

    /// The deliveries to one notification endpoint.
    public static func notifications(to endpoint: String) -> String { "notify-\(endpoint)" }
}
