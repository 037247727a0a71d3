import Foundation

/// The parts of an image configuration the engine runs by.
///
/// Spec: https://github.com/opencontainers/image-spec/blob/main/config.md (`config` object and
/// `rootfs.diff_ids`). Docker's `container_config` is not read.
public struct ImageRuntimeConfig: Decodable, Sendable {
    public struct Defaults: Decodable, Sendable {
        public var user: String?
        public var env: [String]?
        public var entrypoint: [String]?
        public var cmd: [String]?
        public var workingDir: String?
        public var exposedPorts: [String: EmptyObject]?

        enum CodingKeys: String, CodingKey {
            case user = "User", env = "Env", entrypoint = "Entrypoint", cmd = "Cmd"
            case workingDir = "WorkingDir", exposedPorts = "ExposedPorts"
        }
    }

    public struct EmptyObject: Decodable, Sendable {}

    public struct RootFS: Decodable, Sendable {
        public var diffIDs: [String]
        enum CodingKeys: String, CodingKey { case diffIDs = "diff_ids" }
    }

    public var config: Defaults?
    public var rootfs: RootFS

    public init(decoding bytes: [UInt8]) throws {
        self = try JSONDecoder().decode(ImageRuntimeConfig.self, from: Data(bytes))
    }
}
