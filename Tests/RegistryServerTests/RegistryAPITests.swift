import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OCI
@testable import RegistryServer
import Testing

/// In-process tests of the HTTP API through Hummingbird's test client (no sockets).
@Suite struct RegistryAPITests {
    func withRegistry(readOnly: Bool = false, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        var configuration = RegistryConfiguration()
        configuration.storage.rootDirectory = NSTemporaryDirectory() + "berth-api-\(UUID().uuidString)"
        configuration.storage.deleteEnabled = true
        configuration.storage.readOnly = readOnly
        configuration.storage.uploadPurging.enabled = false
        let app = try await buildApplication(configuration: configuration, logger: Logger(label: "test"))
        try await app.test(.router, body)
    }

    static let contentDigest = HTTPField.Name("Docker-Content-Digest")!

    @Test func chunkedUploadThenManifestThenPull() async throws {
        try await withRegistry { client in
            let layer = Array("layer bytes".utf8)
            let layerDigest = DigestHasher.digest(of: layer)
            let start = try await client.execute(uri: "/v2/app/blobs/uploads/", method: .post)
            #expect(start.status == .accepted)
            let location = try #require(start.headers[.location])
            let first = try await client.execute(uri: location, method: .patch,
                                                 headers: [.contentRange: "0-4", .contentLength: "5"],
                                                 body: ByteBuffer(bytes: layer[0..<5]))
            #expect(first.status == .accepted)
            #expect(first.headers[HTTPField.Name("Range")!] == "0-4")
            let outOfOrder = try await client.execute(uri: location, method: .patch, headers: [.contentRange: "3-5"],
                                                      body: ByteBuffer(bytes: layer[3..<6]))
            #expect(outOfOrder.status == .rangeNotSatisfiable)
            let done = try await client.execute(uri: "\(location)?digest=\(layerDigest)", method: .put,
                                                body: ByteBuffer(bytes: layer[5...]))
            #expect(done.status == .created)
            #expect(done.headers[Self.contentDigest] == layerDigest.description)

            let config = Array("{}".utf8)
            let configDigest = DigestHasher.digest(of: config)
            let mono = try await client.execute(uri: "/v2/app/blobs/uploads/?digest=\(configDigest)", method: .post,
                                                body: ByteBuffer(bytes: config))
            #expect(mono.status == .created)

            let manifest = """
            {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)",
             "config":{"mediaType":"\(MediaType.ociConfig)","digest":"\(configDigest)","size":2},
             "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\(layerDigest)","size":\(layer.count)}]}
            """
            let put = try await client.execute(uri: "/v2/app/manifests/v1", method: .put,
                                               headers: [.contentType: MediaType.ociManifest], body: ByteBuffer(string: manifest))
            #expect(put.status == .created)
            let get = try await client.execute(uri: "/v2/app/manifests/v1", method: .get)
            #expect(get.status == .ok)
            #expect(String(buffer: get.body) == manifest)
            #expect(get.headers[.contentType] == MediaType.ociManifest)
            let blob = try await client.execute(uri: "/v2/app/blobs/\(layerDigest)", method: .get,
                                                headers: [HTTPField.Name("Range")!: "bytes=6-"])
            #expect(blob.status == .partialContent)
            #expect(String(buffer: blob.body) == "bytes")
            let tags = try await client.execute(uri: "/v2/app/tags/list", method: .get)
            #expect(String(buffer: tags.body) == "{\"name\":\"app\",\"tags\":[\"v1\"]}")
        }
    }

    @Test func wrongDigestStoresNothing() async throws {
        try await withRegistry { client in
            let wrong = DigestHasher.digest(of: Array("other".utf8))
            let response = try await client.execute(uri: "/v2/app/blobs/uploads/?digest=\(wrong)", method: .post,
                                                    body: ByteBuffer(string: "content"))
            #expect(response.status == .badRequest)
            #expect(String(buffer: response.body).contains("DIGEST_INVALID"))
            let head = try await client.execute(uri: "/v2/app/blobs/\(wrong)", method: .head)
            #expect(head.status == .notFound)
        }
    }

    @Test func manifestWithMissingBlobIsRefused() async throws {
        try await withRegistry { client in
            let missing = DigestHasher.digest(of: Array("missing".utf8))
            let manifest = """
            {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)",
             "config":{"mediaType":"\(MediaType.ociConfig)","digest":"\(missing)","size":7},"layers":[]}
            """
            let put = try await client.execute(uri: "/v2/app/manifests/v1", method: .put,
                                               headers: [.contentType: MediaType.ociManifest], body: ByteBuffer(string: manifest))
            #expect(put.status == .badRequest)
            #expect(String(buffer: put.body).contains("MANIFEST_BLOB_UNKNOWN"))
            let tags = try await client.execute(uri: "/v2/app/tags/list", method: .get)
            #expect(tags.status == .notFound)
        }
    }

    @Test func readOnlyModeRefusesWrites() async throws {
        try await withRegistry(readOnly: true) { client in
            let response = try await client.execute(uri: "/v2/app/blobs/uploads/", method: .post)
            #expect(response.status == .methodNotAllowed)
            #expect(String(buffer: response.body).contains("UNSUPPORTED"))
        }
    }

    @Test func unknownThingsAnswerWithSpecErrors() async throws {
        try await withRegistry { client in
            let manifest = try await client.execute(uri: "/v2/app/manifests/nope", method: .get)
            #expect(manifest.status == .notFound)
            #expect(String(buffer: manifest.body).contains("MANIFEST_UNKNOWN"))
            let upload = try await client.execute(uri: "/v2/app/blobs/uploads/\(UUID().uuidString.lowercased())", method: .get)
            #expect(upload.status == .notFound)
            #expect(String(buffer: upload.body).contains("BLOB_UPLOAD_UNKNOWN"))
            let base = try await client.execute(uri: "/v2/", method: .get)
            #expect(base.headers[HTTPField.Name("Docker-Distribution-API-Version")!] == "registry/2.0")
        }
    }

    @Test func acceptHeaderIsHonoured() async throws {
        try await withRegistry { client in
            let config = Array("{}".utf8)
            let configDigest = DigestHasher.digest(of: config)
            _ = try await client.execute(uri: "/v2/app/blobs/uploads/?digest=\(configDigest)", method: .post, body: ByteBuffer(bytes: config))
            let manifest = """
            {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)","config":{"mediaType":"\(MediaType.ociConfig)","digest":"\(configDigest)","size":2},"layers":[]}
            """
            let put = try await client.execute(uri: "/v2/app/manifests/oci", method: .put,
                                               headers: [.contentType: MediaType.ociManifest], body: ByteBuffer(string: manifest))
            #expect(put.status == .created)
            let dockerOnly = try await client.execute(uri: "/v2/app/manifests/oci", method: .get, headers: [.accept: MediaType.dockerManifest])
            #expect(dockerOnly.status == .notFound)
            let both = try await client.execute(uri: "/v2/app/manifests/oci", method: .get,
                                                headers: [.accept: "\(MediaType.dockerManifest), \(MediaType.ociManifest)"])
            #expect(both.status == .ok)
            let any = try await client.execute(uri: "/v2/app/manifests/oci", method: .get, headers: [.accept: "*/*"])
            #expect(any.status == .ok)
        }
    }
}
