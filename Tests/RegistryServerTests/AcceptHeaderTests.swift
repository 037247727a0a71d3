@testable import RegistryServer
import Testing

/// `Accept` on a manifest GET: which media types a client takes (nil: anything).
@Suite struct AcceptHeaderTests {
    @Test(arguments: [
        ([], nil),
        (["*/*"], nil),
        (["application/vnd.oci.image.manifest.v1+json"], ["application/vnd.oci.image.manifest.v1+json"]),
        (["a/b, c/d;q=0.5", " e/f ;q=0.1"], ["a/b", "c/d", "e/f"]),
        (["a/b,\t*/*"], nil),
        (["application/*"], nil),
        ([";q=1, a/b", " , "], ["a/b"]),
    ] as [([String], Set<String>?)])
    func acceptedMediaTypes(values: [String], expected: Set<String>?) {
        #expect(Endpoints.acceptedMediaTypes(values) == expected)
    }
}
