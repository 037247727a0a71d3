import Foundation
import OCI
import SystemSupport

/// A local image store in OCI image layout form, safe for several processes at once.
///
/// ```
/// <root>/
///   oci-layout                 {"imageLayoutVersion": "1.0.0"}
///   index.json                 one descriptor per name, annotated org.opencontainers.image.ref.name
///   blobs/sha256/<hex>         verified content only; files appear by rename, never grow in place
///   ingest/<hex>.partial       downloads in progress (kept for resuming with Range)
///   tmp/                       scratch space for import, save and load (same filesystem as blobs)
///   index.lock                 flock serialising read-modify-write of index.json
///   gc.lock                    writers hold it shared; garbage collection takes it exclusively
/// ```
/// See https://github.com/opencontainers/image-spec/blob/main/image-layout.md
public final class ImageStore: Sendable {
    /// The layout's root directory.
    public let root: String

    /// Annotation naming an image in index.json (the full reference, `host/repo:tag`).
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
    /// Annotation recording the `host/repository` an image was pulled from (for cross-repo mounts).
    public static let sourceAnnotation = "dev.berth.source"

    /// Opens (creating if needed) the store at `root`.
    public init(root: String) throws {
        self.root = root
        let fm = FileManager.default
        for dir in [root, blobsDirectory, ingestDirectory, tmpDirectory] {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let layout = root + "/oci-layout"
        if !fm.fileExists(atPath: layout) {
            try POSIX.writeFileAtomically(layout, Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
        }
        if !fm.fileExists(atPath: indexPath) {
            let lock = try FileLock(path: root + "/index.lock", exclusive: true)
            if !fm.fileExists(atPath: indexPath) {
                try POSIX.writeFileAtomically(indexPath, Array(#"{"schemaVersion":2,"manifests":[]}"#.utf8))
            }
            _ = lock
        }
    }

    /// `$BERTH_ROOT`, else `/var/lib/berth` for root, else `$XDG_DATA_HOME/berth` or `~/.local/share/berth`.
    public static func defaultRoot(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let root = env["BERTH_ROOT"], !root.isEmpty { return root }
        if getuid() == 0 { return "/var/lib/berth" }
        if let xdg = env["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/berth" }
        return (env["HOME"] ?? NSHomeDirectory()) + "/.local/share/berth"
    }

    var blobsDirectory: String { root + "/blobs/sha256" }
    var ingestDirectory: String { root + "/ingest" }
    /// Scratch space on the store's filesystem, so renames into `blobs` are atomic.
    public var tmpDirectory: String { root + "/tmp" }
    var indexPath: String { root + "/index.json" }

    /// Where a blob lives (it may not exist).
    public func blobPath(_ digest: Digest) -> String {
        "\(root)/blobs/\(digest.algorithm.rawValue)/\(digest.hex)"
    }

    /// Whether a verified blob is present.
    public func hasBlob(_ digest: Digest) -> Bool {
        FileManager.default.fileExists(atPath: blobPath(digest))
    }

    /// Size of a present blob.
    public func blobSize(_ digest: Digest) -> Int64? {
        var st = stat()
        guard stat(blobPath(digest), &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    /// Reads a small blob (manifest, config) whole, checking its digest again.
    public func readBlob(_ digest: Digest, limit: Int = 16 << 20) throws -> [UInt8] {
        guard let size = blobSize(digest) else { throw StoreError.blobMissing(digest) }
        guard size <= limit else { throw StoreError.tooLarge(digest, size) }
        guard let data = FileManager.default.contents(atPath: blobPath(digest)) else {
            throw SystemError("read", blobPath(digest))
        }
        let bytes = Array(data)
        let actual = DigestHasher.digest(of: bytes, algorithm: digest.algorithm)
        guard actual == digest else { throw StoreError.corrupt(digest, actual) }
        return bytes
    }

    /// Writes a small blob from memory; returns its descriptor.
    @discardableResult
    public func writeBlob(_ bytes: [UInt8], mediaType: String) throws -> Descriptor {
        let digest = DigestHasher.digest(of: bytes)
        if !hasBlob(digest) {
            try FileManager.default.createDirectory(atPath: root + "/blobs/" + digest.algorithm.rawValue,
                                                    withIntermediateDirectories: true)
            try POSIX.writeFileAtomically(blobPath(digest), bytes)
        }
        return Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }

    /// Moves a file from `tmp/` into the store after hashing it; returns its digest and size.
    /// When `expected` is given and differs, the file is removed and an error thrown.
    public func adoptFile(_ path: String, expected: Digest? = nil) throws -> (Digest, Int64) {
        let fd = try POSIX.open(path, O_RDONLY)
        defer { close(fd) }
        var hasher = DigestHasher(expected?.algorithm ?? .sha256)
        var size: Int64 = 0
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, chunk)
            if n < 0 { if errno == EINTR { continue }; throw SystemError("read", path) }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            size += Int64(n)
        }
        let digest = hasher.finalize()
        if let expected, expected != digest {
            unlink(path)
            throw StoreError.corrupt(expected, digest)
        }
        if hasBlob(digest) {
            unlink(path)
        } else {
            try POSIX.fsync(fd, path: path)
            try FileManager.default.createDirectory(atPath: root + "/blobs/" + digest.algorithm.rawValue,
                                                    withIntermediateDirectories: true)
            try POSIX.rename(path, blobPath(digest))
            POSIX.fsyncDirectory(blobsDirectory)
        }
        return (digest, size)
    }

    /// A fresh path in `tmp/` for scratch work.
    public func temporaryPath(_ suffix: String = "") -> String {
        "\(tmpDirectory)/\(getpid())-\(UInt64.random(in: 0...UInt64.max))\(suffix)"
    }

    /// Holds the store's writer lease: garbage collection waits (skips) while any is held.
    public func writerLease() throws -> AnyObject {
        guard let lock = try FileLock(path: root + "/gc.lock", exclusive: false) else {
            throw StoreError.busy
        }
        return lock
    }
}

/// Errors of the local store.
public enum StoreError: Error, CustomStringConvertible, Sendable {
    case blobMissing(Digest)
    case corrupt(Digest, Digest)
    case tooLarge(Digest, Int64)
    case imageUnknown(String)
    case busy
    case badArchive(String)

    public var description: String {
        switch self {
        case .blobMissing(let d): return "blob \(d) is not in the local store"
        case .corrupt(let e, let a): return "content \(e) is corrupt in the local store (hashes to \(a))"
        case .tooLarge(let d, let s): return "blob \(d) is too large to read whole (\(s) bytes)"
        case .imageUnknown(let r): return "no such image in the local store: \(r)"
        case .busy: return "the local store is busy"
        case .badArchive(let m): return "invalid archive: \(m)"
        }
    }
}
