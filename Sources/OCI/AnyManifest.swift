import Foundation

/// Reads a manifest body: either an image manifest or an index, told apart by media type.
public enum AnyManifest: Sendable {
    case image(ImageManifest)
    case index(ImageIndex)

    /// Decodes `bytes`, using `contentType` when the body has no `mediaType` field.
    public init(decoding bytes: [UInt8], contentType: String?) throws {
        struct Probe: Decodable { var mediaType: String?; var manifests: [Descriptor]? }
        let decoder = JSONDecoder()
        let probe = try decoder.decode(Probe.self, from: Data(bytes))
        let type = probe.mediaType ?? contentType
        if MediaType.isIndex(type) || (type == nil && probe.manifests != nil) {
            self = .index(try decoder.decode(ImageIndex.self, from: Data(bytes)))
        } else {
            self = .image(try decoder.decode(ImageManifest.self, from: Data(bytes)))
        }
    }
}
