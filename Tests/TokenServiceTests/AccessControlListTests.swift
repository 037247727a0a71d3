import Foundation
import RegistryAuth
import ServerConfiguration
@testable import TokenService
import Testing

@Suite struct AccessControlListTests {
    let acl: AccessControlList

    init() throws {
        acl = AccessControlList(rules: [
            .init(account: try .init("admin"), name: nil, type: nil, actions: ["*"]),
            .init(account: try .init("mallory"), name: nil, type: nil, actions: []),
            .init(account: try .init("/.+/"), name: try .init("${account}/*"), type: nil, actions: ["pull", "push", "delete"]),
            .init(account: try .init(""), name: try .init("public/*"), type: nil, actions: ["pull"]),
            .init(account: try .init("/.+/"), name: nil, type: try .init("repository"), actions: ["pull"]),
        ])
    }

    @Test func firstMatchWinsAndGrantsTheIntersection() {
        let asked = AccessScope.repository("alice/app", "pull", "push")
        #expect(acl.grant(asked, to: "alice").actions == ["pull", "push"])
        #expect(acl.grant(asked, to: "bob").actions == ["pull"], "other users only pull")
        #expect(acl.grant(asked, to: "admin").actions == ["pull", "push"])
        #expect(acl.grant(.catalog, to: "admin").actions == ["*"])
        #expect(acl.grant(.catalog, to: "alice").actions.isEmpty)
        #expect(acl.grant(asked, to: "mallory").actions.isEmpty, "actions [] denies")
    }

    @Test func anonymousPullsOnlyPublic() {
        #expect(acl.grant(.repository("public/busybox", "pull", "push"), to: "").actions == ["pull"])
        #expect(acl.grant(.repository("alice/app", "pull"), to: "").actions.isEmpty)
    }

    @Test func accountExpansionCannotEscapeItsNamespace() {
        #expect(acl.grant(.repository("alice-evil/app", "push"), to: "alice").actions.isEmpty)
        #expect(acl.grant(.repository("alice/app", "push"), to: "ali").actions.isEmpty)
    }

    /// The ACL uses the registry's one glob matcher: `*` stays within a segment, `**` crosses.
    @Test(arguments: [("a*", "abc", true), ("a*c", "abbbc", true), ("a?c", "abc", true), ("a?c", "ac", false),
                      ("*/x", "p/q/x", false), ("**/x", "p/q/x", true), ("alice/*", "alice/a/b", false),
                      ("alice/**", "alice/a/b", true), ("abc", "abcd", false)])
    func globs(_ pattern: String, _ text: String, _ expected: Bool) throws {
        #expect(try AccessControlList.Pattern(pattern).matches(text, account: "") == expected)
    }
}

@Suite struct TokenServiceConfigurationTests {
    @Test func namesEveryBadKey() {
        let yaml = """
        server: {addr: nowhere, ratelimit: {burst: -1}}
        token: {expiration: 0}
        users: {static: {eve: {password: plain}}}
        acl:
          - match: {acount: x}
            actions: [pull]
        """
        do {
            _ = try TokenServiceConfiguration.parse(yaml: yaml, baseDirectory: "/nonexistent")
            Issue.record("expected an error")
        } catch let error as ConfigurationError {
            let text = error.problems.joined(separator: "\n")
            for key in ["server.addr", "server.ratelimit.burst", "token.issuer", "token.service", "token.expiration",
                        "token.certificate", "token.key", "users.static.eve.password", "acl[0].match.acount"] {
                #expect(text.contains(key), "missing \(key)")
            }
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

extension TokenServiceConfigurationTests {
    /// `BERTH_AUTH_` + the key path overrides a key, matched against the known keys so that
    /// `per_minute` (a key with `_` of its own) resolves; unknown names are warned about.
    @Test func environmentOverridesKnownKeys() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-auth-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["token.crt", "token.key"] {
            FileManager.default.createFile(atPath: "\(directory)/\(name)", contents: Data("x".utf8))
        }
        let yaml = """
        server: {addr: 127.0.0.1:5001}
        token: {issuer: berth-auth, service: registry, certificate: token.crt, key: token.key}
        """
        let config = try TokenServiceConfiguration.parse(yaml: yaml, environment: [
            "BERTH_AUTH_SERVER_ADDR": "127.0.0.1:6001",
            "BERTH_AUTH_SERVER_RATELIMIT_PER_MINUTE": "60",
            "BERTH_AUTH_TOKEN_EXPIRATION": "600",
            "BERTH_AUTH_NO_SUCH_KEY": "1",
            "REGISTRY_HTTP_ADDR": ":1",
        ], baseDirectory: directory)
        #expect(config.address == ListenAddress(host: "127.0.0.1", port: 6001))
        #expect(config.perMinute == 60)
        #expect(config.expiration == 600)
        #expect(config.issuer == "berth-auth")
        #expect(config.certificatePath == "\(directory)/token.crt")
        #expect(config.warnings.contains { $0.contains("BERTH_AUTH_NO_SUCH_KEY") })
        #expect(!config.warnings.contains { $0.contains("REGISTRY_HTTP_ADDR") })
    }

    @Test func badOverrideNamesItsKey() {
        #expect {
            _ = try TokenServiceConfiguration.parse(yaml: "token: {issuer: x}", environment: ["BERTH_AUTH_SERVER_ADDR": "nowhere"],
                                                    baseDirectory: "/nonexistent")
        } throws: { error in
            (error as? ConfigurationError)?.problems.contains("server.addr: expected host:port, got \"nowhere\"") == true
        }
    }
}

@Suite struct FailureLimiterTests {
    @Test func refusesAfterTheBurst() {
        let limiter = FailureLimiter(burst: 3, perMinute: 1)
        for _ in 0..<3 {
            #expect(!limiter.isLimited(["user:a"]))
            limiter.recordFailure(["user:a", "addr:1"])
        }
        #expect(limiter.isLimited(["user:a"]))
        #expect(limiter.isLimited(["user:other", "addr:1"]), "the address is limited too")
        #expect(!limiter.isLimited(["user:b", "addr:2"]))
    }

    @Test func refreshTokensAreBoundToTheirClient() {
        let store = RefreshTokenStore()
        let token = store.issue(account: "alice", clientID: "docker")
        #expect(store.redeem(token, clientID: "docker")?.account == "alice")
        #expect(store.redeem(token, clientID: "other") == nil)
        #expect(store.redeem(token + "x", clientID: "docker") == nil)
    }
}
