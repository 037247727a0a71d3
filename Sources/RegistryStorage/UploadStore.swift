#if canImport(Glibc)
import Glibc
#endif
import Foundation
import OCI

/// The data files of resumable upload sessions, and the hash state of each one.
///
/// The acknowledged size of a session is kept by the caller (in the metadata store); on every
/// append the file is first truncated to it, so bytes of a chunk that was cut off or written
/// before a crash never count. The hasher for a session is cached in memory at its acknowledged
/// size; after a restart it is rebuilt by reading the file once.
///
/// `@unchecked Sendable`: `hashers` and `active` are only touched under `lock`.
public final class UploadStore: @unchecked Sendable {
    public enum UploadError: Error, Equatable {
        /// Another request is appending to this session right now.
        case busy
        /// The data file is missing or shorter than the acknowledged size.
        case dataLost
    }

    private let paths: StoragePaths
    private let lock = NSLock()
    private var hashers: [UploadID: BlobWriter.Checkpoint] = [:]
    private var active: Set<UploadID> = []

    public init(paths: StoragePaths) {
        self.paths = paths
    }

    /// Creates the empty data file of a new session.
    public func create(_ id: UploadID) throws {
        let file = try FileDescriptor.open(paths.uploadData(id), O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
        file.close()
        lock.withLock { hashers[id] = BlobWriter.Checkpoint(size: 0, hasher: DigestHasher(.sha256)) }
    }

    /// Opens the session for appending at `size` (its acknowledged size); call `finish` afterwards.
    public func beginAppend(_ id: UploadID, at size: Int64, algorithm: Digest.Algorithm = .sha256) throws -> BlobWriter {
        let cached: BlobWriter.Checkpoint? = try lock.withLock {
            guard active.insert(id).inserted else { throw UploadError.busy }
            return hashers[id]
        }
        do {
            let file = try FileDescriptor.open(paths.uploadData(id), O_RDWR)
            do {
                guard try file.size() >= size else { throw UploadError.dataLost }
                try file.truncate(to: size)
                try file.seek(to: size)
                let hasher: DigestHasher
                if let cached, cached.size == size, cached.hasher.algorithm == algorithm {
                    hasher = cached.hasher
                } else {
                    hasher = try Self.rehash(file, size: size, algorithm: algorithm)
                }
                return BlobWriter(file: file, size: size, hasher: hasher)
            } catch {
                file.close()
                throw error
            }
        } catch {
            _ = lock.withLock { active.remove(id) }
            if let systemError = error as? SystemError, systemError.errno == ENOENT { throw UploadError.dataLost }
            throw error
        }
    }

    /// Ends an append: remembers the hash state when `keep` (the writer is then closed) and
    /// releases the session for the next request.
    public func finish(_ id: UploadID, _ writer: BlobWriter, keep: Bool) {
        lock.withLock {
            if keep { hashers[id] = writer.checkpoint } else { hashers[id] = nil }
            active.remove(id)
        }
    }

    /// Releases the session after its writer was committed as a blob (the file is gone).
    public func forget(_ id: UploadID) {
        lock.withLock {
            hashers[id] = nil
            active.remove(id)
        }
    }

    /// Deletes the session's data file.
    public func remove(_ id: UploadID) {
        FileSystem.remove(paths.uploadData(id))
        forget(id)
    }

    /// Temp files of monolithic uploads older than `age` seconds (left by a crash).
    public func staleTemporaryFiles(olderThan age: TimeInterval) -> [String] {
        let directory = paths.uploadsDirectory
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        let cutoff = Date().addingTimeInterval(-age)
        return names.filter { $0.hasPrefix("tmp-") }.map { "\(directory)/\($0)" }.filter { path in
            let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate]) as? Date
            return (modified ?? .distantPast) < cutoff
        }
    }

    public func removeFile(_ path: String) { FileSystem.remove(path) }

    private static func rehash(_ file: FileDescriptor, size: Int64, algorithm: Digest.Algorithm) throws -> DigestHasher {
        var hasher = DigestHasher(algorithm)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < size {
            let wanted = Int(min(Int64(buffer.count), size - offset))
            let read = try buffer.withUnsafeMutableBytes { raw in
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[..<wanted]), at: offset)
            }
            guard read > 0 else { throw UploadError.dataLost }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<read])) }
            offset += Int64(read)
        }
        return hasher
    }
}
