import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import OCI
import RegistryCore
import RegistryMetadata

/// Tag list, catalog and referrers: indexed queries with `n`/`last` pagination and `Link`.
///
/// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#content-discovery
extension Endpoints {
    static let defaultCatalogPage = 1000

    func tags(of repository: RepositoryName, query: FlatDictionary<Substring, Substring>) async throws -> Response {
        let (limit, last) = try Self.pagination(query)
        let page = try await core.tags(of: repository, after: last, limit: limit.map { $0 + 1 })
        let (items, link) = paginate(page, limit: limit, path: "/v2/\(repository)/tags/list")
        return try Self.json(TagList(name: repository.value, tags: items), link: link)
    }

    func catalog(query: FlatDictionary<Substring, Substring>) async throws -> Response {
        let (requested, last) = try Self.pagination(query)
        let limit = requested ?? Self.defaultCatalogPage
        let page = try await core.repositories(after: last, limit: limit + 1)
        let (items, link) = paginate(page, limit: limit, path: "/v2/_catalog")
        return try Self.json(Catalog(repositories: items), link: link)
    }

    func referrers(of subject: Digest, in repository: RepositoryName, query: FlatDictionary<Substring, Substring>) async throws -> Response {
        let artifactType = query["artifactType"].map(String.init)
        let records = try await core.referrers(of: subject, in: repository, artifactType: artifactType)
        let descriptors = records.map { record in
            let annotations = record.annotationsJSON.flatMap {
                try? JSONDecoder().decode([String: String].self, from: Data($0.utf8))
            }
            return Descriptor(mediaType: record.mediaType, digest: record.digest, size: record.size,
                              annotations: annotations, artifactType: record.artifactType)
        }
        let index = ReferrersIndex(manifests: descriptors)
        var response = try Self.json(index, link: nil)
        response.headers[.contentType] = MediaType.ociIndex
        if artifactType != nil { response.headers[.ociFiltersApplied] = "artifactType" }
        return response
    }

    // MARK: Helpers

    private struct TagList: Encodable { let name: String; let tags: [String] }
    private struct Catalog: Encodable { let repositories: [String] }
    private struct ReferrersIndex: Encodable {
        let schemaVersion = 2
        let mediaType = MediaType.ociIndex
        let manifests: [Descriptor]
    }

    static func pagination(_ query: FlatDictionary<Substring, Substring>) throws -> (Int?, String?) {
        var limit: Int?
        if let text = query["n"] {
            guard let value = Int(text), value >= 0 else {
                throw DistributionError(.unsupported, "n must be a non-negative integer", status: 400)
            }
            limit = min(value, 10_000)
        }
        let last = query["last"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        return (limit, last)
    }

    /// Cuts a page fetched with one extra row; the `Link` header points at the next page when there is one.
    private func paginate(_ page: [String], limit: Int?, path: String) -> ([String], String?) {
        guard let limit, page.count > limit else { return (page, nil) }
        let items = Array(page.prefix(limit))
        guard let last = items.last else { return (items, nil) }
        let encoded = last.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? last
        return (items, "<\(location(path))?n=\(limit)&last=\(encoded)>; rel=\"next\"")
    }

    static func json(_ value: some Encodable, link: String?) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        var headers: HTTPFields = [.contentType: "application/json", .contentLength: String(data.count)]
        if let link { headers[.link] = link }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
