#if canImport(Glibc)
import Glibc
#endif
import OCI

/// Content-addressed blobs at Distribution's paths; a blob is visible only once complete and verified.
///
/// Commit protocol: data is written to a file under `uploads/` while its digest is computed,
/// fsynced, renamed to `blobs/<alg>/<xx>/<hex>/data`, and the directory is fsynced. Two uploads of
/// the same blob both rename identical bytes into place, which is safe.
public struct BlobStore: Sendable {
    public let paths: StoragePaths

    public init(paths: StoragePaths) throws {
        self.paths = paths
        try FileSystem.makeDirectories(paths.uploadsDirectory)
        try FileSystem.makeDirectories("\(paths.distributionRoot)/blobs")
    }

    /// The blob's size, or nil when it is not stored.
    public func size(of digest: Digest) -> Int64? {
        FileSystem.fileSize(paths.blobData(digest))
    }

    public func contains(_ digest: Digest) -> Bool { size(of: digest) != nil }

    /// Opens the blob for reading; nil when it is not stored.
    public func open(_ digest: Digest) -> FileDescriptor? {
        try? FileDescriptor.open(paths.blobData(digest), O_RDONLY)
    }

    /// Reads a small blob (a manifest) whole; nil when absent or larger than `limit`.
    public func readAll(_ digest: Digest, limit: Int = Manifest.maximumSize) throws -> [UInt8]? {
        guard let file = open(digest) else { return nil }
        defer { file.close() }
        let size = try file.size()
        guard size <= limit else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        var offset = 0
        while offset < bytes.count {
            let read = try bytes.withUnsafeMutableBytes { buffer in
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]), at: Int64(offset))
            }
            if read == 0 { break }
            offset += read
        }
        return offset == bytes.count ? bytes : nil
    }

    /// A new temp file in the uploads directory for a monolithic upload.
    public func makeTemporaryWriter(algorithm: Digest.Algorithm) throws -> BlobWriter {
        let path = "\(paths.uploadsDirectory)/tmp-\(UploadID.random().value)"
        let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
        return BlobWriter(file: file, size: 0, hasher: DigestHasher(algorithm))
    }

    /// Makes the writer's file the blob `digest`: fsync, rename into place, fsync the directory.
    /// The caller has checked the digest. The writer is closed.
    public func commit(_ writer: BlobWriter, as digest: Digest) throws {
        defer { writer.close() }
        try writer.file.sync()
        try place(writer.file.path, as: digest)
    }

    /// Stores small content (a manifest) under its digest.
    public func store(_ bytes: [UInt8], as digest: Digest) throws {
        if contains(digest) { return }
        let writer = try makeTemporaryWriter(algorithm: digest.algorithm)
        do {
            try bytes.withUnsafeBytes { try writer.write($0) }
            try commit(writer, as: digest)
        } catch {
            FileSystem.remove(writer.file.path)
            throw error
        }
    }

    /// Removes a temp or upload file that will not be committed.
    public func discard(_ writer: BlobWriter) {
        writer.close()
        FileSystem.remove(writer.file.path)
    }

    private func place(_ source: String, as digest: Digest) throws {
        let directory = paths.blobDirectory(digest)
        try FileSystem.makeDirectories(directory)
        try FileSystem.rename(source, paths.blobData(digest))
        try FileSystem.syncDirectory(directory)
    }
}
