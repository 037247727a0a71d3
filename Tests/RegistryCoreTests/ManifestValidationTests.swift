import OCI
import RegistryCore
import Testing

@Suite struct ManifestValidationTests {
    static let hex = String(repeating: "a", count: 64)
    static let other = String(repeating: "b", count: 64)

    func manifest(_ layer: String) throws -> Manifest {
        let json = """
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
         "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\(Self.hex)","size":2},
         "layers":[\(layer)]}
        """
        return try Manifest(bytes: Array(json.utf8), contentType: MediaType.ociManifest)
    }

    func layer(_ mediaType: String, urls: [String]? = nil) -> String {
        let list = urls.map { ",\"urls\":[" + $0.map { "\"\($0)\"" }.joined(separator: ",") + "]" } ?? ""
        return "{\"mediaType\":\"\(mediaType)\",\"digest\":\"sha256:\(Self.other)\",\"size\":5\(list)}"
    }

    @Test func layersFetchedFromURLsNeedNotBePresent() throws {
        let validation = ManifestValidation()
        let foreign = try manifest(layer(MediaType.ociLayerNondistributable, urls: ["https://example.com/l"]))
        #expect(try validation.requiredBlobs(of: foreign).count == 1, "only the config")
        let withoutURLs = try manifest(layer(MediaType.ociLayerNondistributable))
        #expect(try validation.requiredBlobs(of: withoutURLs).count == 2)
        let distributable = try manifest(layer(MediaType.ociLayerGzip, urls: ["https://example.com/l"]))
        #expect(try validation.requiredBlobs(of: distributable).count == 2, "a distributable layer must be present anyway")
        #expect(throws: DistributionError.self) {
            try validation.requiredBlobs(of: try manifest(layer(MediaType.ociLayer, urls: ["ftp://example.com/l"])))
        }
    }

    @Test func allowAndDenyRules() throws {
        var validation = ManifestValidation()
        validation.urls = .rules(allow: try RegularExpression(anyOf: ["^https://mirror\\."]), deny: try RegularExpression(anyOf: ["bad"]))
        #expect(throws: Never.self) {
            try validation.requiredBlobs(of: try manifest(layer(MediaType.ociLayerNondistributable, urls: ["https://mirror.example/l"])))
        }
        for url in ["https://other.example/l", "https://mirror.example/bad"] {
            #expect(throws: DistributionError.self) {
                try validation.requiredBlobs(of: try manifest(layer(MediaType.ociLayerNondistributable, urls: [url])))
            }
        }
        // Distribution 3 with empty allow and deny: no URL at all.
        validation.urls = .rules(allow: try RegularExpression("^$"), deny: nil)
        #expect(throws: DistributionError.self) {
            try validation.requiredBlobs(of: try manifest(layer(MediaType.ociLayerNondistributable, urls: ["https://mirror.example/l"])))
        }
    }

    @Test func indexChildrenByPlatform() throws {
        let json = """
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
         {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:\(Self.hex)","size":2,
          "platform":{"os":"linux","architecture":"amd64"}},
         {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:\(Self.other)","size":2,
          "platform":{"os":"linux","architecture":"arm64"}}]}
        """
        let index = try Manifest(bytes: Array(json.utf8), contentType: nil)
        var validation = ManifestValidation()
        #expect(validation.requiredChildren(of: index).count == 2)
        validation.indexes = .noChildren
        #expect(validation.requiredChildren(of: index).isEmpty)
        validation.indexes = .platforms([.init(os: "linux", architecture: "amd64")])
        #expect(validation.requiredChildren(of: index).map(\.hex) == [Self.hex])
        validation.indexes = .platforms([])
        #expect(validation.requiredChildren(of: index).count == 2)
    }
}
