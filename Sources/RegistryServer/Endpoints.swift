import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import OCI
import RegistryAuth
import RegistryCore

/// The HTTP side of the registry: translates requests into calls of the core `Registry` and its
/// results into responses (status, headers, bodies). Nothing here touches storage or metadata.
///
/// Handlers live in extensions by area: `Endpoints+Blobs`, `+Uploads`, `+Manifests`, `+Listings`.
/// They throw; `RegistryResponder` turns every error into the spec's JSON.
struct Endpoints: Sendable {
    let configuration: RegistryConfiguration
    let core: Registry
    let authenticator: (any RequestAuthenticator)?
    var logger: Logger { core.logger }

    /// Path of an API URL under the configured prefix (e.g. `/v2/name/blobs/uploads/<id>`), absolute
    /// when `http.host` is set, as Distribution writes `Location`.
    func location(_ path: String) -> String {
        let prefixed = configuration.http.prefix == "/" ? path : String(configuration.http.prefix.dropLast()) + path
        if let host = configuration.http.externalHost { return host + prefixed }
        return prefixed
    }

    static func contentLength(_ request: Request) -> Int64? {
        request.headers[.contentLength].flatMap { Int64($0) }
    }
}

extension HTTPField.Name {
    static let dockerContentDigest = Self("Docker-Content-Digest")!
    static let dockerUploadUUID = Self("Docker-Upload-UUID")!
    static let dockerDistributionAPIVersion = Self("Docker-Distribution-API-Version")!
    static let ociSubject = Self("OCI-Subject")!
    static let ociTag = Self("OCI-Tag")!
    static let ociFiltersApplied = Self("OCI-Filters-Applied")!
    static let link = Self("Link")!
}
