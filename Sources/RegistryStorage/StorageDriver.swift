import NIOCore

/// Where the registry keeps bytes: blobs, manifests and upload sessions, by path.
///
/// Paths are driver-relative, `/`-separated, without a leading slash (`docker/registry/v2/...`).
/// The contract is one an object store can keep too: a file is written once through a writer and
/// becomes visible at its path only when committed or moved there; nothing is renamed in place,
/// truncated or overwritten in part. `move` is a server-side copy and delete on an object store.
/// Every call may block (disk, network), so implementations do their work off the caller's executor.
public protocol StorageDriver: Sendable {
    /// Size and modification time of the file at `path`; nil when there is none.
    func stat(_ path: String) async throws -> StorageFileInfo?

    /// Opens the file at `path` for reading in chunks; nil when absent.
    func open(_ path: String) async throws -> (any StorageReader)?

    /// The whole content of a small file (at most `limit` bytes); nil when absent or larger.
    func readAll(_ path: String, limit: Int) async throws -> [UInt8]?

    /// A writer for a new file at `path` (`appendingAt` nil), or one continuing an upload session
    /// whose first `appendingAt` bytes were committed before (at 0, the file need not exist yet:
    /// a session gets its file with its first bytes).
    func writer(_ path: String, appendingAt offset: Int64?) async throws -> any StorageWriter

    /// Moves a committed file to `destination`, replacing what is there (content-addressed paths
    /// only ever receive the same bytes).
    func move(_ source: String, to destination: String) async throws

    /// Removes the file or the whole tree at each of `paths` (nothing happens for one that is not
    /// there), in as few calls as the store allows (an object store deletes a thousand keys per
    /// request).
    func delete(_ paths: [String]) async throws

    /// Names of the entries directly under `directory`; empty when there is none.
    func list(_ directory: String) async throws -> [String]

    /// A URL a client can fetch the file from directly (an object store's presigned URL); nil
    /// when the bytes are to be streamed through the registry.
    func redirectURL(_ path: String) async throws -> String?

    /// Frees what writers cut off before `cutoff` (seconds since 1970) left behind where
    /// listings do not show it (an object store's unfinished multipart uploads).
    func purgeAbandonedWrites(startedBefore cutoff: Int64) async throws
}

extension StorageDriver {
    public func redirectURL(_ path: String) async throws -> String? { nil }

    public func purgeAbandonedWrites(startedBefore cutoff: Int64) async throws {}

    /// Removes the file or the whole tree at `path`; nothing happens when there is none.
    public func delete(_ path: String) async throws {
        try await delete([path])
    }
}

/// What `StorageDriver.stat` reports.
public struct StorageFileInfo: Sendable, Equatable {
    public var size: Int64
    /// Seconds since 1970.
    public var modified: Int64

    public init(size: Int64, modified: Int64) {
        self.size = size
        self.modified = modified
    }
}

/// A streaming writer. Bytes written become part of the file only on `commit`, which makes them
/// durable (a new file's own name becomes durable when `move` places it: new files are only ever
/// written to be moved); `cancel` discards everything this writer wrote, so a request cut off
/// half-way leaves an upload session as it was.
public protocol StorageWriter: AnyObject, Sendable {
    func write(_ buffer: ByteBuffer) async throws
    func commit() async throws
    func cancel() async
}

/// Sequential chunks of a byte range of one file (the whole file unless limited).
public protocol StorageReader: AnyObject, Sendable {
    /// The file's size when it was opened.
    var size: Int64 { get }
    /// Reads only `range` (within `0..<size`); call before the first `next`.
    func limit(to range: Range<Int64>)
    /// The next chunk, nil after the last one.
    func next() async throws -> ByteBuffer?
    func close() async
}

/// A reader whose bytes are a range of a local file, which a server may send with `sendfile(2)`
/// instead of reading them through user space.
public protocol LocalFileReader: StorageReader {
    /// Hands the open file over, with the range `limit(to:)` left to read: the caller closes the
    /// descriptor from then on, and the reader reads nothing more. Nil once closed.
    func detachFile() -> (file: FileDescriptor, range: Range<Int64>)?
}

/// Failures every driver reports the same way.
public enum StorageError: Error, Equatable, CustomStringConvertible {
    /// The file to append to, move or read is missing, or shorter than the caller expects.
    case notFound(String)

    public var description: String {
        switch self {
        case .notFound(let path): "storage: \(path) not found"
        }
    }
}
