import Foundation

/// A manifest as pushed to the registry, parsed and checked; its bytes are kept verbatim.
///
/// One type covers the four kinds a registry must accept (OCI image manifest, OCI image index,
/// Docker schema 2 manifest, Docker manifest list) and artifacts (`artifactType`, empty config):
/// the registry only needs what they reference, their subject and their artifact type.
/// Spec: https://github.com/opencontainers/image-spec/blob/main/manifest.md and image-index.md
public struct Manifest: Sendable {
    public static let maximumSize = 4 * 1024 * 1024

    public enum Kind: Sendable { case image, index }

    public let mediaType: String
    public let kind: Kind
    public let config: Descriptor?
    public let layers: [Descriptor]
    public let manifests: [Descriptor]
    public let subject: Descriptor?
    /// `artifactType`, or for an image manifest without one, its config's media type (as the
    /// referrers API reports it).
    public let artifactType: String?
    public let annotations: [String: String]?

    private struct Wire: Decodable {
        var schemaVersion: Int?
        var mediaType: String?
        var artifactType: String?
        var config: Descriptor?
        var layers: [Descriptor]?
        var manifests: [Descriptor]?
        var subject: Descriptor?
        var annotations: [String: String]?
    }

    /// Parses `bytes` pushed with `contentType`; throws `MANIFEST_INVALID` with the reason.
    public init(bytes: [UInt8], contentType: String?) throws(DistributionError) {
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: Data(bytes))
        } catch {
            throw DistributionError(.manifestInvalid, "manifest is not valid JSON of a known kind", detail: "\(error)")
        }
        let declared = contentType.map { $0.split(separator: ";")[0].trimmingCharacters(in: .whitespaces) }
            .flatMap { $0.isEmpty ? nil : $0 }
        if let inBody = wire.mediaType, let declared, declared != inBody,
           MediaType.manifestTypes.contains(declared) {
            throw DistributionError(.manifestInvalid, "mediaType \(inBody) does not match Content-Type \(declared)")
        }
        let mediaType: String
        if let inBody = wire.mediaType {
            mediaType = inBody
        } else if let declared, MediaType.manifestTypes.contains(declared) {
            mediaType = declared
        } else {
            // OCI allows mediaType to be omitted; infer it from the shape.
            mediaType = wire.manifests != nil ? MediaType.ociIndex : MediaType.ociManifest
        }
        guard MediaType.manifestTypes.contains(mediaType) else {
            if mediaType == MediaType.dockerSchema1 || mediaType == MediaType.dockerSchema1Signed {
                throw DistributionError(.manifestInvalid, "Docker schema 1 manifests are not supported")
            }
            throw DistributionError(.manifestInvalid, "unknown manifest media type \(mediaType.prefix(200))")
        }
        guard wire.schemaVersion == 2 else {
            throw DistributionError(.manifestInvalid, "schemaVersion must be 2")
        }
        let kind: Kind = MediaType.indexTypes.contains(mediaType) ? .index : .image
        switch kind {
        case .image:
            guard let config = wire.config else { throw DistributionError(.manifestInvalid, "image manifest has no config") }
            guard wire.layers != nil || wire.artifactType != nil || mediaType == MediaType.ociManifest else {
                throw DistributionError(.manifestInvalid, "image manifest has no layers")
            }
            guard wire.manifests == nil else { throw DistributionError(.manifestInvalid, "image manifest lists manifests") }
            self.config = config
            self.layers = wire.layers ?? []
            self.manifests = []
        case .index:
            guard let manifests = wire.manifests else { throw DistributionError(.manifestInvalid, "index has no manifests") }
            guard wire.config == nil else { throw DistributionError(.manifestInvalid, "index has a config") }
            self.config = nil
            self.layers = []
            self.manifests = manifests
        }
        for descriptor in ([config].compactMap { $0 } + layers + manifests + [wire.subject].compactMap { $0 })
        where descriptor.size < 0 {
            throw DistributionError(.manifestInvalid, "descriptor \(descriptor.digest) has a negative size")
        }
        self.mediaType = mediaType
        self.kind = kind
        self.subject = wire.subject
        self.annotations = wire.annotations
        if let artifactType = wire.artifactType {
            self.artifactType = artifactType
        } else if kind == .image {
            self.artifactType = config?.mediaType
        } else {
            self.artifactType = nil
        }
    }
}
