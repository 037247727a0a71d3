import Foundation
import NIOPosix
import Synchronization

/// Group commit for SQLite's one writer: the write transactions that arrive while one commit is
/// being synced run together in the next transaction, each under a savepoint of its own, and
/// share its one commit and its one `fsync`. Each caller is answered only after that commit,
/// so nothing is acknowledged before it is durable; a body that throws has its savepoint rolled
/// back and its error answered, and the others commit.
///
/// Jobs queue here and each submits a drain to the writer thread; a drain takes every job queued
/// so far (later drains find the queue empty), so under load a group is whatever arrived during
/// the previous group's fsync, and alone a job commits at once, as before.
///
/// `@unchecked Sendable`: the connection is only used by drains, on the single writer thread
/// and under `lock`.
final class SQLiteGroupCommit: @unchecked Sendable {
    struct Job: Sendable {
        /// Whether the commit must be synced (`synchronous = FULL`); a group of only
        /// non-durable jobs commits with `synchronous = NORMAL`.
        let durable: Bool
        /// Runs the body in the open transaction; true when it threw (its changes are undone).
        let run: @Sendable (SQLiteConnection) -> Bool
        /// Answers the caller once the group's fate is known: nil, or the error that failed it.
        let answer: @Sendable ((any Error)?) -> Void
    }

    private let connection: SQLiteConnection
    private let lock: NSLock
    private let thread: NIOThreadPool
    private let pending = Mutex<[Job]>([])

    init(connection: SQLiteConnection, lock: NSLock, thread: NIOThreadPool) {
        self.connection = connection
        self.lock = lock
        self.thread = thread
    }

    func submit(_ job: Job) {
        pending.withLock { $0.append(job) }
        thread.submit { state in
            guard case .active = state else {
                let abandoned = self.pending.withLock { Self.take(&$0) }
                for job in abandoned { job.answer(CancellationError()) }
                return
            }
            self.drain()
        }
    }

    private static func take(_ jobs: inout [Job]) -> [Job] {
        var taken: [Job] = []
        swap(&taken, &jobs)
        return taken
    }

    private func drain() {
        let jobs = pending.withLock { Self.take(&$0) }
        guard !jobs.isEmpty else { return }
        let failure: (any Error)? = lock.withLock {
            let durable = jobs.contains { $0.durable }
            do {
                if !durable { try connection.execute("PRAGMA synchronous = NORMAL") }
                defer { if !durable { try? connection.execute("PRAGMA synchronous = FULL") } }
                try connection.execute("BEGIN IMMEDIATE")
                do {
                    for job in jobs {
                        try connection.execute("SAVEPOINT job")
                        if job.run(connection) { try connection.execute("ROLLBACK TO job") }
                        try connection.execute("RELEASE job")
                    }
                    try connection.execute("COMMIT")
                } catch {
                    try? connection.execute("ROLLBACK")
                    throw error
                }
                return nil
            } catch {
                return error
            }
        }
        for job in jobs { job.answer(failure) }
    }
}

/// A write's result, set by its job on the writer thread and read when it is answered.
final class SQLiteWriteOutcome<T: Sendable>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
