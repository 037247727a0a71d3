import CLayerArchive
import Foundation
import ImageStore
import OCI
import SystemSupport

/// Unpacks image layers once into read-only snapshots keyed by chain ID, for overlayfs.
///
/// `chainID(1) = diffID(1)`, `chainID(n) = sha256(chainID(n-1) + " " + diffID(n))`
/// (https://github.com/opencontainers/image-spec/blob/main/config.md#layer-chainid). Each
/// snapshot holds only its own layer, with whiteouts in overlay form, so the container's root is
/// an overlay of the snapshots. A layer is unpacked into a temporary directory, its diff_id
/// checked against the config, and renamed into place: a snapshot is never seen half-written,
/// and two processes unpacking the same layer both end up using the one that won the rename.
public struct Snapshotter: Sendable {
    public let store: ImageStore
    public let paths: EnginePaths

    public init(store: ImageStore, paths: EnginePaths) {
        self.store = store
        self.paths = paths
    }

    /// Chain IDs of the layers whose diff IDs are given (bottom layer first).
    public static func chainIDs(_ diffIDs: [Digest]) -> [Digest] {
        var chain: [Digest] = []
        for diffID in diffIDs {
            guard let parent = chain.last else { chain.append(diffID); continue }
            chain.append(DigestHasher.digest(of: Array("\(parent) \(diffID)".utf8)))
        }
        return chain
    }

    /// Makes sure every layer of the image is unpacked; returns the lower directories for
    /// overlayfs, top-most first.
    public func prepare(layers: [Descriptor], config: ImageRuntimeConfig) throws -> [String] {
        let diffIDs = try config.rootfs.diffIDs.map { text throws -> Digest in
            do { return try Digest(text) } catch { throw EngineError.invalidImage("diff_id \"\(text.prefix(80))\"") }
        }
        guard diffIDs.count == layers.count else {
            throw EngineError.invalidImage("\(layers.count) layers but \(diffIDs.count) diff_ids in the config")
        }
        let chain = Snapshotter.chainIDs(diffIDs)
        var lowers: [String] = []
        for (index, layer) in layers.enumerated() {
            let dir = paths.snapshot(chain[index])
            if !FileManager.default.fileExists(atPath: dir + "/fs") {
                try unpack(layer, expecting: diffIDs[index], into: dir)
            }
            lowers.append(dir + "/fs")
        }
        return lowers.reversed()
    }

    private func unpack(_ layer: Descriptor, expecting diffID: Digest, into final: String) throws {
        guard diffID.algorithm == .sha256 else { throw EngineError.invalidImage("unsupported diff_id \(diffID)") }
        guard store.hasBlob(layer.digest) else { throw EngineError.invalidImage("layer \(layer.digest) is not in the store") }
        let scratch = paths.snapshots + "/.tmp-" + UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: scratch + "/fs", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let hasher = StreamHasher()
        var message = [CChar](repeating: 0, count: 1024)
        let status = berth_unpack_layer(store.blobPath(layer.digest), scratch + "/fs", { context, bytes, count in
            guard let context, let bytes else { return }
            Unmanaged<StreamHasher>.fromOpaque(context).takeUnretainedValue()
                .update(UnsafeRawBufferPointer(start: bytes, count: count))
        }, Unmanaged.passUnretained(hasher).toOpaque(), &message, message.count)
        withExtendedLifetime(hasher) {}
        guard status == 0 else {
            throw EngineError.layerRefused(layer.digest.description, String(cString: message))
        }
        let actual = hasher.finish()
        guard actual == diffID else {
            throw EngineError.layerRefused(layer.digest.description, "diff_id is \(actual), the config says \(diffID)")
        }
        // Another process may have won the race: then its snapshot is as good as ours.
        if rename(scratch, final) != 0 && !FileManager.default.fileExists(atPath: final + "/fs") {
            throw SystemError("rename", final)
        }
    }
}

/// SHA-256 over the uncompressed layer stream, fed from libarchive's callback (one thread).
private final class StreamHasher {
    private var hasher = DigestHasher(.sha256)
    func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bytes) }
    func finish() -> Digest { hasher.finalize() }
}
