#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import NIOPosix
import SystemSupport

/// `StorageDriver` on a local directory: Distribution's filesystem layout.
///
/// Every system call runs on a thread pool of the driver's own, never on an event loop or the
/// concurrency pool. Commits are durable: file fsync, then `rename` and a directory fsync.
public struct FilesystemDriver: StorageDriver {
    public let root: String
    let pool: NIOThreadPool

    /// Threads shared by every driver of the process: enough to keep a disk busy, few enough for
    /// two cores.
    static let sharedPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()

    public init(root: String) {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed
        self.pool = Self.sharedPool
    }

    /// The local path of a driver path.
    public func absolute(_ path: String) -> String { "\(root)/\(path)" }

    /// Runs blocking work on the driver's threads.
    func blocking<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    public func stat(_ path: String) async throws -> StorageFileInfo? {
        let full = absolute(path)
        return try await blocking { FileSystem.info(full) }
    }

    public func open(_ path: String) async throws -> (any StorageReader)? {
        let full = absolute(path)
        let pool = self.pool
        return try await blocking { () -> FilesystemReader? in
            let file: FileDescriptor
            do {
                file = try FileDescriptor.open(full, O_RDONLY)
            } catch let error as SystemError where error.errno == ENOENT || error.errno == ENOTDIR {
                return nil
            }
            do {
                return FilesystemReader(file: file, size: try file.size(), pool: pool)
            } catch {
                file.close()
                throw error
            }
        }
    }

    public func readAll(_ path: String, limit: Int) async throws -> [UInt8]? {
        let full = absolute(path)
        return try await blocking { try FileSystem.readAll(full, limit: limit) }
    }

    public func writer(_ path: String, appendingAt offset: Int64?) async throws -> any StorageWriter {
        let full = absolute(path)
        let pool = self.pool
        return try await blocking { () -> FilesystemWriter in
            guard let offset else {
                try FileSystem.makeDirectories(FileSystem.parentDirectory(full))
                let file = try FileDescriptor.open(full, O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
                return FilesystemWriter(file: file, start: 0, isNew: true, syncsDirectory: false, pool: pool)
            }
            let file: FileDescriptor
            var created = false
            do {
                file = try FileDescriptor.open(full, O_RDWR)
            } catch let error as SystemError where error.errno == ENOENT {
                guard offset == 0 else { throw StorageError.notFound(path) }
                try FileSystem.makeDirectories(FileSystem.parentDirectory(full))
                file = try FileDescriptor.open(full, O_RDWR | O_CREAT, mode: 0o644)
                created = true
            }
            do {
                // Bytes past the committed size belong to a chunk that was cut off or written
                // before a crash: they never count.
                guard try file.size() >= offset else { throw StorageError.notFound(path) }
                try file.truncate(to: offset)
                try file.seek(to: offset)
            } catch {
                file.close()
                throw error
            }
            return FilesystemWriter(file: file, start: offset, isNew: false, syncsDirectory: created, pool: pool)
        }
    }

    public func move(_ source: String, to destination: String) async throws {
        let from = absolute(source), to = absolute(destination)
        try await blocking {
            let directory = FileSystem.parentDirectory(to)
            // A sweep may remove the destination's directory between mkdir and rename (it removes a
            // blob's own directory); make it again and retry.
            var attempts = 0
            while true {
                try FileSystem.makeDirectories(directory)
                do {
                    try FileSystem.rename(from, to)
                    break
                } catch let error as SystemError where error.errno == ENOENT && attempts < 8 && FileSystem.exists(from) {
                    attempts += 1
                }
            }
            try FileSystem.syncDirectory(directory)
        }
    }

    public func delete(_ paths: [String]) async throws {
        let full = paths.map(absolute)
        try await blocking { for path in full { try FileSystem.removeTree(path) } }
    }

    public func list(_ directory: String) async throws -> [String] {
        let full = absolute(directory)
        return try await blocking { FileSystem.list(full) }
    }
}
