import Foundation
import NIOCore
import OCI
import SystemSupport

/// Writes one blob into the store: resumable, verified, atomic.
///
/// Bytes go to `ingest/<hex>.partial`, locked with `flock` so two processes never write the same
/// blob at once (the second waits, then finds the blob committed). On open, an existing partial
/// file is re-hashed so the download can resume with `Range` from its end. `commit` checks size
/// and digest, fsyncs, and renames into `blobs/sha256/<hex>`; a mismatch deletes the partial file.
/// Not `Sendable`: one task owns a writer from open to commit or close.
public final class BlobWriter {
    /// The blob being written.
    public let descriptor: Descriptor
    /// Bytes already in the partial file; request the rest from here.
    public private(set) var offset: Int64
    /// True when another process committed the blob while we waited for the lock.
    public let alreadyPresent: Bool

    private let store: ImageStore
    private let path: String
    private var fd: Int32
    private var hasher: DigestHasher

    /// Opens (or resumes) the partial file for `descriptor`; blocks while another process holds it.
    public init(store: ImageStore, descriptor: Descriptor) throws {
        self.store = store
        self.descriptor = descriptor
        self.hasher = DigestHasher(descriptor.digest.algorithm)
        self.path = "\(store.ingestDirectory)/\(descriptor.digest.hex).partial"
        fd = try POSIX.open(path, O_RDWR | O_CREAT, 0o644)
        do {
            _ = try POSIX.flock(fd, LOCK_EX, path: path)
            if store.hasBlob(descriptor.digest) {
                alreadyPresent = true
                offset = 0
                unlink(path)
                return
            }
            alreadyPresent = false
            var size = try POSIX.size(fd, path: path)
            if descriptor.size > 0 && size > descriptor.size {
                guard ftruncate(fd, 0) == 0 else { throw SystemError("ftruncate", path) }
                size = 0
            }
            offset = 0
            try rehash(upTo: size)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Feeds the first `size` bytes of the partial file to the hasher and seeks to its end.
    private func rehash(upTo size: Int64) throws {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw SystemError("lseek", path) }
        var done: Int64 = 0
        while done < size {
            let n = read(fd, buffer.baseAddress, Int(Swift.min(Int64(chunk), size - done)))
            if n < 0 { if errno == EINTR { continue }; throw SystemError("read", path) }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            done += Int64(n)
        }
        guard ftruncate(fd, off_t(done)) == 0, lseek(fd, off_t(done), SEEK_SET) == done else {
            throw SystemError("ftruncate", path)
        }
        offset = done
    }

    /// Drops what was written (the registry ignored our `Range` and sent the whole blob).
    public func restart() throws {
        guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else { throw SystemError("ftruncate", path) }
        hasher = DigestHasher(descriptor.digest.algorithm)
        offset = 0
    }

    /// Appends a buffer, hashing it on the way.
    public func write(_ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { bytes in
            if descriptor.size > 0 && offset + Int64(bytes.count) > descriptor.size {
                throw ContentMismatch.size(digest: descriptor.digest, expected: descriptor.size,
                                               actual: offset + Int64(bytes.count))
            }
            hasher.update(bytes)
            try POSIX.writeAll(fd, bytes, path: path)
            offset += Int64(bytes.count)
        }
    }

    /// Verifies size and digest, then makes the blob visible atomically.
    public func commit() throws {
        guard !alreadyPresent else { return }
        let actual = hasher.finalize()
        guard actual == descriptor.digest, descriptor.size <= 0 || offset == descriptor.size else {
            unlink(path)
            close(fd)
            fd = -1
            if actual != descriptor.digest {
                throw ContentMismatch.digest(expected: descriptor.digest, actual: actual)
            }
            throw ContentMismatch.size(digest: descriptor.digest, expected: descriptor.size, actual: offset)
        }
        try POSIX.fsync(fd, path: path)
        try FileManager.default.createDirectory(atPath: store.root + "/blobs/" + descriptor.digest.algorithm.rawValue,
                                                withIntermediateDirectories: true)
        try POSIX.rename(path, store.blobPath(descriptor.digest))
        POSIX.fsyncDirectory(store.blobsDirectory)
        close(fd)
        fd = -1
    }
}
