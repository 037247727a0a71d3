import OCI
import Testing

@Suite struct ManifestTests {
    static let hex = String(repeating: "a", count: 64)

    @Test func parsesImageManifest() throws {
        let json = """
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
         "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\(Self.hex)","size":2},
         "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:\(Self.hex)","size":5},
                   {"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar","digest":"sha256:\(Self.hex)","size":5}]}
        """
        let manifest = try Manifest(bytes: Array(json.utf8), contentType: MediaType.ociManifest)
        #expect(manifest.kind == .image)
        #expect(manifest.layers.count == 2)
        #expect(manifest.artifactType == MediaType.ociConfig)
    }

    @Test func parsesArtifactWithSubject() throws {
        let json = """
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x-sbom",
         "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"\(EmptyJSON.digest)","size":2},
         "layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:\(Self.hex)","size":7},
         "annotations":{"a":"b"}}
        """
        let manifest = try Manifest(bytes: Array(json.utf8), contentType: nil)
        #expect(manifest.artifactType == "application/x-sbom")
        #expect(manifest.subject?.digest.hex == Self.hex)
        #expect(manifest.annotations == ["a": "b"])
    }

    @Test func parsesDockerManifestList() throws {
        let json = """
        {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
         "manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:\(Self.hex)","size":9,
                       "platform":{"architecture":"amd64","os":"linux"}}]}
        """
        let manifest = try Manifest(bytes: Array(json.utf8), contentType: MediaType.dockerManifestList)
        #expect(manifest.kind == .index)
        #expect(manifest.manifests.first?.platform?.architecture == "amd64")
    }

    @Test(arguments: [
        "not json",
        "[]",
        "{\"schemaVersion\":1}",
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}",
        "{\"schemaVersion\":2,\"mediaType\":\"text/plain\",\"config\":{}}",
        "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:bad\",\"size\":1},\"layers\":[]}",
        "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:\(String(repeating: "a", count: 64))\",\"size\":-1},\"layers\":[]}",
    ])
    func rejectsMalformedManifests(_ json: String) {
        #expect(throws: DistributionError.self) { try Manifest(bytes: Array(json.utf8), contentType: nil) }
    }

    @Test func rejectsContentTypeMismatch() {
        let json = """
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}
        """
        #expect(throws: DistributionError.self) {
            try Manifest(bytes: Array(json.utf8), contentType: MediaType.ociManifest)
        }
    }
}
