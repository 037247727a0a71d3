import Foundation
import OCI

/// What a pushed manifest must have in the registry, as Distribution's `validation` keys say:
/// which layer URLs are acceptable and which index children must already exist.
///
/// Without a `validation` section Berth behaves as Distribution 2.8 (any http(s) URL, every index
/// child must exist); with one, as Distribution 3 (`disabled: true` turns both checks off; empty
/// `allow` and `deny` allow no URL at all).
public struct ManifestValidation: Sendable {
    public enum URLPolicy: Sendable {
        /// Any `http`/`https` URL without a fragment.
        case anyHTTP
        /// Also matching `allow` (when set) and not matching `deny` (when set).
        case rules(allow: RegularExpression?, deny: RegularExpression?)
    }

    public enum IndexPolicy: Sendable, Equatable {
        /// Every child must exist (the default).
        case allChildren
        /// Children may be missing (sparse indexes, one platform mirrored).
        case noChildren
        /// Only children of these platforms must exist (every child when the list is empty);
        /// os and architecture are compared, as Distribution does.
        case platforms([Platform])
    }

    public var urls: URLPolicy = .anyHTTP
    public var indexes: IndexPolicy = .allChildren

    public init() {}

    /// The config and layers that must be in the repository, as Distribution decides: layers
    /// fetched from their `urls` need not be; their URLs are checked (`MANIFEST_INVALID`).
    public func requiredBlobs(of manifest: Manifest) throws(DistributionError) -> [Digest] {
        var required = manifest.config.map { [$0.digest] } ?? []
        for layer in manifest.layers {
            switch layer.mediaType {
            case MediaType.ociLayer, MediaType.ociLayerGzip, MediaType.ociLayerNondistributable, MediaType.ociLayerNondistributableGzip:
                try checkURLs(of: layer)
                let distributable = layer.mediaType == MediaType.ociLayer || layer.mediaType == MediaType.ociLayerGzip
                if (layer.urls ?? []).isEmpty || distributable { required.append(layer.digest) }
            case MediaType.dockerForeignLayer:
                guard !(layer.urls ?? []).isEmpty else {
                    throw DistributionError(.manifestInvalid, "foreign layer \(layer.digest) has no urls")
                }
                try checkURLs(of: layer)
            default:
                required.append(layer.digest)
            }
        }
        return required
    }

    /// The children of an index that must already be in the repository.
    public func requiredChildren(of manifest: Manifest) -> [Digest] {
        switch indexes {
        case .allChildren: return manifest.manifests.map(\.digest)
        case .noChildren: return []
        case .platforms(let platforms):
            if platforms.isEmpty { return manifest.manifests.map(\.digest) }
            return manifest.manifests.filter { child in
                guard let platform = child.platform else { return false }
                return platforms.contains { $0.os == platform.os && $0.architecture == platform.architecture }
            }.map(\.digest)
        }
    }

    private func checkURLs(of layer: Descriptor) throws(DistributionError) {
        for url in layer.urls ?? [] {
            let parsed = URLComponents(string: url)
            var acceptable = parsed != nil && ["http", "https"].contains(parsed?.scheme ?? "") && parsed?.fragment == nil
            if acceptable, case .rules(let allow, let deny) = urls {
                if let allow, !allow.matches(url) { acceptable = false }
                if let deny, deny.matches(url) { acceptable = false }
            }
            guard acceptable else {
                throw DistributionError(.manifestInvalid, "layer \(layer.digest) has a URL the registry does not accept: \(url.prefix(200))",
                                        detail: layer.digest.description)
            }
        }
    }
}
