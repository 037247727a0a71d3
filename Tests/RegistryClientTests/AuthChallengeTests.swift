import NIOHTTP1
import Testing
@testable import RegistryClient

/// `WWW-Authenticate` parsing, as registries and token services write it.
@Suite struct AuthChallengeTests {
    @Test func bearerWithAllParameters() throws {
        let header = #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#
        let c = try #require(AuthChallenge.parse(header).first)
        #expect(c.scheme == "bearer")
        #expect(c.realm == "https://auth.docker.io/token")
        #expect(c.service == "registry.docker.io")
        #expect(c.scope == "repository:samalba/my-app:pull,push")
    }

    @Test func insufficientScopeError() throws {
        let header = #"Bearer realm="http://127.0.0.1:1/token",service="s",scope="repository:a:push",error="insufficient_scope""#
        let c = try #require(AuthChallenge.parse(header).first)
        #expect(c.error == "insufficient_scope")
    }

    @Test func basicAndCaseInsensitiveScheme() throws {
        let c = try #require(AuthChallenge.parse(#"basic realm="Registry Realm""#).first)
        #expect(c.scheme == "basic")
        #expect(c.realm == "Registry Realm")
    }

    @Test func severalChallengesInOneHeader() {
        let all = AuthChallenge.parse(#"Basic realm="a", Bearer realm="https://x/token", service="svc""#)
        #expect(all.map(\.scheme) == ["basic", "bearer"])
        #expect(all.last?.service == "svc")
        #expect(all.last?.realm == "https://x/token")
    }

    @Test func escapesAndUnquotedTokens() {
        let all = AuthChallenge.parse(#"Bearer realm="a \"quoted\" realm", service=plain"#)
        #expect(all.first?.realm == #"a "quoted" realm"#)
        #expect(all.first?.service == "plain")
    }

    @Test(arguments: ["", "   ", ",,,"])
    func emptyHeaders(_ header: String) {
        #expect(AuthChallenge.parse(header).isEmpty)
    }

    @Test func linkHeaderNext() {
        var headers = HTTPHeaders()
        headers.add(name: "Link", value: #"</v2/_catalog?last=b&n=2>; rel="next""#)
        #expect(RegistryClient.nextLink(headers) == "/v2/_catalog?last=b&n=2")
        #expect(RegistryClient.nextLink(HTTPHeaders()) == nil)
    }

    @Test func errorBodiesInWords() {
        let body = Array(#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#.utf8)
        let error = ClientError.fromResponse(status: 404, url: "/v2/x/manifests/y", body: body)
        #expect(error.has(.manifestUnknown))
        #expect(error.description.contains("no such tag or digest"))
    }

    @Test func credentialsNeverPrintSecrets() {
        let c = Credentials(username: "u", password: "hunter2", identityToken: "tok-123")
        #expect(!c.description.contains("hunter2"))
        #expect(!c.description.contains("tok-123"))
        #expect(c.basicAuthorization == "Basic dTpodW50ZXIy")
    }

    @Test(arguments: ["", "f", "fo", "foo", "foob", "fooba", "foobar", "user:pä ss"])
    func base64RoundTrip(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
    }
}
