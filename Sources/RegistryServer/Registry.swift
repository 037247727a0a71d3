import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import OCI
import RegistryAuth
import RegistryMetadata
import RegistryStorage

/// The registry's state: stores, settings and the authenticator every handler uses.
///
/// Handlers live in extensions by area: `Registry+Blobs`, `+Uploads`, `+Manifests`, `+Listings`.
/// They throw `DistributionError`; `RegistryResponder` turns every error into the spec's JSON.
struct Registry: Sendable {
    let configuration: RegistryConfiguration
    let blobs: BlobStore
    let uploads: UploadStore
    let metadata: any MetadataStore
    let manifestCache = ManifestCache()
    let authenticator: (any RequestAuthenticator)?
    let logger: Logger

    init(configuration: RegistryConfiguration, authenticator: (any RequestAuthenticator)?, logger: Logger) throws {
        let paths = StoragePaths(root: configuration.rootDirectory)
        self.configuration = configuration
        self.blobs = try BlobStore(paths: paths)
        self.uploads = UploadStore(paths: paths)
        self.metadata = try SQLiteMetadataStore(path: paths.metadataDatabase)
        self.authenticator = authenticator
        self.logger = logger
    }

    /// Path of an API URL under the configured prefix (e.g. `/v2/name/blobs/uploads/<id>`), absolute
    /// when `http.host` is set, as Distribution writes `Location`.
    func location(_ path: String) -> String {
        let prefixed = configuration.prefix == "/" ? path : String(configuration.prefix.dropLast()) + path
        if let host = configuration.externalHost { return host + prefixed }
        return prefixed
    }

    func ensureWritable() throws(DistributionError) {
        if configuration.readOnly {
            throw DistributionError(.unsupported, "the registry is in read-only mode", status: 405)
        }
    }

    func ensureDeleteEnabled() throws(DistributionError) {
        guard configuration.deleteEnabled else {
            throw DistributionError(.unsupported, "deletes are disabled (storage.delete.enabled)", status: 405)
        }
        try ensureWritable()
    }
}

extension HTTPField.Name {
    static let dockerContentDigest = Self("Docker-Content-Digest")!
    static let dockerUploadUUID = Self("Docker-Upload-UUID")!
    static let dockerDistributionAPIVersion = Self("Docker-Distribution-API-Version")!
    static let ociSubject = Self("OCI-Subject")!
    static let ociFiltersApplied = Self("OCI-Filters-Applied")!
    static let link = Self("Link")!
}
