#if canImport(Glibc)
import Glibc
#endif
import OCI

/// Appends to a file while computing its digest on the same bytes.
///
/// Used for upload sessions and monolithic uploads. A failed append can be rolled back to a
/// checkpoint (size and hasher state), so a cut-off chunk leaves the upload as it was.
public final class BlobWriter {
    public let file: FileDescriptor
    public private(set) var size: Int64
    public private(set) var hasher: DigestHasher
    private var writebackStart: Int64
    /// Dirty bytes after which writeback is started early (keeps the final fsync short).
    private static let writebackInterval: Int64 = 8 << 20

    init(file: FileDescriptor, size: Int64, hasher: DigestHasher) {
        self.file = file
        self.size = size
        self.hasher = hasher
        self.writebackStart = size
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        try file.writeAll(bytes)
        hasher.update(bytes)
        size += Int64(bytes.count)
        if size - writebackStart >= Self.writebackInterval {
            file.startWriteback(offset: writebackStart, count: size - writebackStart)
            writebackStart = size
        }
    }

    /// Undoes everything written since `checkpoint` was taken.
    public func rollback(to checkpoint: Checkpoint) throws {
        try file.truncate(to: checkpoint.size)
        try file.seek(to: checkpoint.size)
        size = checkpoint.size
        hasher = checkpoint.hasher
        writebackStart = min(writebackStart, size)
    }

    public var checkpoint: Checkpoint { Checkpoint(size: size, hasher: hasher) }

    public func close() { file.close() }

    /// A point an append can be rolled back to.
    public struct Checkpoint: Sendable {
        public let size: Int64
        public let hasher: DigestHasher
    }
}
