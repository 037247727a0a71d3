import OCI

/// The whole on-disk layout, drawn once.
///
/// ```
/// <root>/docker/registry/v2/blobs/<alg>/<first 2 hex>/<hex>/data   blob and manifest bytes, exactly
///                                                                 where CNCF Distribution keeps them
/// <root>/docker/registry/v2/repositories/...                      Distribution's link files (read by
///                                                                 `import`, never written)
/// <root>/berth/metadata.sqlite                                    names, tags, manifests, uploads
/// <root>/berth/uploads/<uuid>                                     upload sessions' data and temp files
/// ```
/// Uploads and temp files live on the same filesystem as the blobs, so committing is a `rename`.
public struct StoragePaths: Sendable {
    public let root: String

    public init(root: String) {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed
    }

    public var distributionRoot: String { "\(root)/docker/registry/v2" }
    public var berthDirectory: String { "\(root)/berth" }
    public var metadataDatabase: String { "\(berthDirectory)/metadata.sqlite" }
    public var uploadsDirectory: String { "\(berthDirectory)/uploads" }

    public func blobDirectory(_ digest: Digest) -> String {
        "\(distributionRoot)/blobs/\(digest.algorithm.rawValue)/\(digest.hex.prefix(2))/\(digest.hex)"
    }

    public func blobData(_ digest: Digest) -> String { "\(blobDirectory(digest))/data" }

    /// `id` must be an `UploadID` (checked at the edge), never raw request text.
    public func uploadData(_ id: UploadID) -> String { "\(uploadsDirectory)/\(id.value)" }
}

/// An upload session id: a lower-case UUID, so it can be joined into a path.
public struct UploadID: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return nil }
        for (index, byte) in bytes.enumerated() {
            let isDash = index == 8 || index == 13 || index == 18 || index == 23
            let ok = isDash ? byte == 0x2D : ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66))
            if !ok { return nil }
        }
        value = String(text)
    }

    public static func random() -> UploadID {
        var generator = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef")
        var text = ""
        for index in 0..<32 {
            if index == 8 || index == 12 || index == 16 || index == 20 { text.append("-") }
            text.append(hex[Int(generator.next() % 16)])
        }
        // 36 characters of lower-case hex and dashes always parse.
        return UploadID(text)!
    }

    public var description: String { value }
}
