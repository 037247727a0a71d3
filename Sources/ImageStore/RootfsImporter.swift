import Foundation
import OCI
import SystemSupport

/// Builds a single-layer image from a root filesystem, as `docker import` does.
///
/// A directory is archived with `/bin/tar` (numeric owners, sorted names); a plain tar is
/// compressed with `gzip -n`; a gzip tar is used as is. The layer's diff ID is the digest of the
/// uncompressed tar, recorded in the config's `rootfs.diff_ids`.
public struct RootfsImporter: Sendable {
    public let store: ImageStore

    public init(store: ImageStore) { self.store = store }

    /// Imports `source` (tarball or directory) and names it `reference`; returns the manifest descriptor.
    @discardableResult
    public func importRootfs(from source: String, as reference: ImageReference, platform: Platform) throws -> Descriptor {
        let lease = try store.writerLease()
        defer { withExtendedLifetime(lease) {} }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw SystemError("stat", source, errno: ENOENT)
        }
        let tarPath = store.temporaryPath(".tar")
        let gzPath = store.temporaryPath(".tar.gz")
        defer { unlink(tarPath); unlink(gzPath) }
        let diffID: Digest
        if isDirectory.boolValue {
            try Subprocess.run(["/bin/tar", "--numeric-owner", "--sort=name", "-C", source, "-cf", tarPath, "."])
            diffID = try Self.hashFile(tarPath)
            try Subprocess.run(["/bin/gzip", "-n", "-c", tarPath], stdoutPath: gzPath)
        } else if try Self.isGzip(source) {
            try Subprocess.run(["/bin/gzip", "-d", "-c", source], stdoutPath: tarPath)
            diffID = try Self.hashFile(tarPath)
            try FileManager.default.copyItem(atPath: source, toPath: gzPath)
        } else {
            diffID = try Self.hashFile(source)
            try Subprocess.run(["/bin/gzip", "-n", "-c", source], stdoutPath: gzPath)
        }
        let (layerDigest, layerSize) = try store.adoptFile(gzPath)
        let now = ISO8601DateFormatter().string(from: Date())
        let config = ImageConfig(created: now, platform: platform, rootfs: .init(diffIDs: [diffID]),
                                 history: [.init(created: now, createdBy: "berth import")])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let configDescriptor = try store.writeBlob(Array(try encoder.encode(config)), mediaType: MediaType.ociConfig)
        let manifest = ImageManifest(config: configDescriptor,
                                     layers: [Descriptor(mediaType: MediaType.ociLayerGzip, digest: layerDigest, size: layerSize)])
        let descriptor = try store.writeBlob(Array(try encoder.encode(manifest)), mediaType: MediaType.ociManifest)
        try store.setReference(reference, to: descriptor)
        return descriptor
    }

    /// Whether a file starts with the gzip magic bytes.
    static func isGzip(_ path: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw SystemError("open", path) }
        defer { try? handle.close() }
        let magic = handle.readData(ofLength: 2)
        return magic.count == 2 && magic[magic.startIndex] == 0x1f && magic[magic.startIndex + 1] == 0x8b
    }

    /// The sha256 of a file, read in 1 MiB chunks.
    public static func hashFile(_ path: String) throws -> Digest {
        let fd = try POSIX.open(path, O_RDONLY)
        defer { close(fd) }
        var hasher = DigestHasher()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, 1 << 20)
            if n < 0 { if errno == EINTR { continue }; throw SystemError("read", path) }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hasher.finalize()
    }
}
