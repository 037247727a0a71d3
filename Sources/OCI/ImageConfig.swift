/// Just enough of an image configuration to build and describe images.
///
/// See https://github.com/opencontainers/image-spec/blob/main/config.md
public struct ImageConfig: Codable, Sendable {
    /// The root filesystem's uncompressed layer digests.
    public struct RootFS: Codable, Sendable {
        public var type: String
        public var diffIDs: [Digest]
        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }
        public init(diffIDs: [Digest]) {
            self.type = "layers"
            self.diffIDs = diffIDs
        }
    }

    /// One line of `history`.
    public struct History: Codable, Sendable {
        public var created: String?
        public var createdBy: String?
        enum CodingKeys: String, CodingKey {
            case created
            case createdBy = "created_by"
        }
        public init(created: String?, createdBy: String?) {
            self.created = created
            self.createdBy = createdBy
        }
    }

    public var created: String?
    public var architecture: String
    public var os: String
    public var variant: String?
    public var rootfs: RootFS
    public var history: [History]?

    public init(created: String?, platform: Platform, rootfs: RootFS, history: [History]?) {
        self.created = created
        self.architecture = platform.architecture
        self.os = platform.os
        self.variant = platform.variant
        self.rootfs = rootfs
        self.history = history
    }
}
