import Foundation
import OCI
import SystemSupport

/// A named image in the store.
public struct StoredImage: Sendable {
    /// Full reference, `host/repository:tag` (or `@digest`).
    public let name: String
    /// The manifest or index the name points at.
    public let descriptor: Descriptor
}

extension ImageStore {
    /// Reads index.json.
    func readIndex() throws -> ImageIndex {
        guard let data = FileManager.default.contents(atPath: indexPath) else {
            return ImageIndex(mediaType: MediaType.ociIndex, manifests: [])
        }
        return try JSONDecoder().decode(ImageIndex.self, from: data)
    }

    /// Runs `change` on index.json under the index lock and writes the result atomically.
    func updateIndex<T>(_ change: (inout ImageIndex) throws -> T) throws -> T {
        let lock = try FileLock(path: root + "/index.lock", exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        var index = try readIndex()
        let result = try change(&index)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        try POSIX.writeFileAtomically(indexPath, Array(try encoder.encode(index)))
        return result
    }

    /// Every named image, in index order.
    public func images() throws -> [StoredImage] {
        try readIndex().manifests.compactMap { d in
            guard let name = d.annotations?[Self.refNameAnnotation] else { return nil }
            return StoredImage(name: name, descriptor: d)
        }
    }

    /// The manifest a reference names: by its full name, or by digest when it carries one.
    public func resolve(_ reference: ImageReference) throws -> Descriptor? {
        let all = try images()
        if let hit = all.first(where: { $0.name == reference.description }) { return hit.descriptor }
        if let digest = reference.digest {
            if let hit = all.first(where: { $0.descriptor.digest == digest }) { return hit.descriptor }
            if hasBlob(digest) {
                let bytes = try readBlob(digest)
                let type: String
                switch try AnyManifest(decoding: bytes, contentType: nil) {
                case .index(let i): type = i.mediaType ?? MediaType.ociIndex
                case .image(let m): type = m.mediaType ?? MediaType.ociManifest
                }
                return Descriptor(mediaType: type, digest: digest, size: Int64(bytes.count))
            }
        }
        return nil
    }

    /// Points `name` at `descriptor`, replacing what it pointed at before. The descriptor's
    /// `sourceAnnotation` (where the image was pulled from) is kept, so a push can mount from there.
    public func setReference(_ reference: ImageReference, to descriptor: Descriptor) throws {
        let name = reference.description
        var entry = descriptor
        var annotations = [Self.refNameAnnotation: name]
        if let source = descriptor.annotations?[Self.sourceAnnotation] { annotations[Self.sourceAnnotation] = source }
        entry.annotations = annotations
        try updateIndex { index in
            index.manifests.removeAll { $0.annotations?[Self.refNameAnnotation] == name }
            index.manifests.append(entry)
        }
    }

    /// Removes a name; returns what it pointed at, or nil when it was unknown.
    @discardableResult
    public func removeReference(_ reference: ImageReference) throws -> Descriptor? {
        let name = reference.description
        return try updateIndex { index in
            var removed: Descriptor?
            index.manifests.removeAll { d in
                let hit = d.annotations?[Self.refNameAnnotation] == name
                    || (reference.tag == nil && reference.digest != nil && d.digest == reference.digest
                        && d.annotations?[Self.refNameAnnotation]?.hasPrefix(reference.name + "@") == true)
                if hit { removed = d }
                return hit
            }
            return removed
        }
    }

    /// Every blob reachable from a manifest or index (including itself); missing children skipped.
    public func reachableBlobs(from descriptor: Descriptor) throws -> Set<Digest> {
        var seen: Set<Digest> = [descriptor.digest]
        guard hasBlob(descriptor.digest),
              MediaType.isIndex(descriptor.mediaType) || MediaType.isImageManifest(descriptor.mediaType)
        else { return seen }
        switch try AnyManifest(decoding: try readBlob(descriptor.digest), contentType: descriptor.mediaType) {
        case .image(let m):
            for blob in m.blobs { seen.insert(blob.digest) }
        case .index(let i):
            for child in i.manifests { seen.formUnion(try reachableBlobs(from: child)) }
        }
        return seen
    }

    /// Deletes blobs no name reaches. Skipped (returns nil) while a pull, import or load holds
    /// a writer lease, since their blobs are committed before their name is.
    public func collectGarbage() throws -> (removed: Int, bytes: Int64)? {
        guard let lock = try FileLock(path: root + "/gc.lock", exclusive: true, nonBlocking: true) else { return nil }
        defer { withExtendedLifetime(lock) {} }
        var live: Set<Digest> = []
        for image in try images() { live.formUnion(try reachableBlobs(from: image.descriptor)) }
        var removed = 0
        var bytes: Int64 = 0
        for file in try FileManager.default.contentsOfDirectory(atPath: blobsDirectory) {
            guard let digest = try? Digest("sha256:" + file), !live.contains(digest) else { continue }
            let size = blobSize(digest) ?? 0
            if unlink(blobPath(digest)) == 0 {
                removed += 1
                bytes += size
            }
        }
        return (removed, bytes)
    }
}
