import Foundation
import OCI
@testable import RegistryServer
import ServerConfiguration
import Testing

@Suite struct RouteTests {
    static let digest = "sha256:" + String(repeating: "a", count: 64)

    @Test func parsesEveryEndpoint() throws {
        let name = try RepositoryName("a/b/c")
        let digest = try Digest(Self.digest)
        #expect(try RegistryRoute.parse("/v2/") == .base)
        #expect(try RegistryRoute.parse("/v2") == .base)
        #expect(try RegistryRoute.parse("/v2/_catalog") == .catalog)
        #expect(try RegistryRoute.parse("/v2/a/b/c/tags/list") == .tags(name))
        #expect(try RegistryRoute.parse("/v2/a/b/c/manifests/latest") == .manifest(name, .tag(try Tag("latest"))))
        #expect(try RegistryRoute.parse("/v2/a/b/c/manifests/\(Self.digest)") == .manifest(name, .digest(digest)))
        #expect(try RegistryRoute.parse("/v2/a/b/c/blobs/\(Self.digest)") == .blob(name, digest))
        #expect(try RegistryRoute.parse("/v2/a/b/c/blobs/uploads/") == .uploads(name))
        #expect(try RegistryRoute.parse("/v2/a/b/c/referrers/\(Self.digest)") == .referrers(name, digest))
        // A repository may be called "blobs" or "manifests" itself.
        #expect(try RegistryRoute.parse("/v2/blobs/manifests/x") == .manifest(try RepositoryName("blobs"), .tag(try Tag("x"))))
        #expect(try RegistryRoute.parse("/other") == nil)
    }

    @Test(arguments: ["/v2/../x/manifests/latest", "/v2/A/tags/list", "/v2/a/%2e%2e/blobs/uploads/",
                      "/v2/\(String(repeating: "a", count: 300))/tags/list"])
    func rejectsInvalidNames(_ path: String) {
        #expect(throws: DistributionError.self) { try RegistryRoute.parse(Substring(path)) }
    }

    @Test func rejectsInvalidDigestsAndUploadIDs() {
        #expect(throws: DistributionError(.digestInvalid, "invalid digest \"sha256:zz\"")) {
            try RegistryRoute.parse("/v2/a/blobs/sha256:zz")
        }
        #expect(throws: DistributionError.self) { try RegistryRoute.parse("/v2/a/blobs/uploads/..%2f..%2fetc") }
    }
}

@Suite struct ConfigurationTests {
    @Test func readsDistributionKeysAndEnvironmentOverrides() throws {
        let yaml = """
        version: 0.1
        log: {level: debug, formatter: json}
        storage:
          filesystem: {rootdirectory: /srv/registry}
          delete: {enabled: true}
          maintenance:
            uploadpurging: {enabled: true, age: 1h30m, interval: 10m, dryrun: true}
        http:
          addr: :5000
          headers: {X-Content-Type-Options: [nosniff]}
        """
        let config = try RegistryConfiguration.parse(yaml: yaml, environment: [
            "REGISTRY_HTTP_ADDR": "127.0.0.1:6000",
            "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": "/tmp/other",
        ])
        #expect(config.http.address.host == "127.0.0.1")
        #expect(config.http.address.port == 6000)
        #expect(config.storage.rootDirectory == "/tmp/other")
        #expect(config.storage.deleteEnabled)
        #expect(config.log.formatter == "json")
        #expect(config.storage.uploadPurging.age == 5400)
        #expect(config.storage.uploadPurging.interval == 600)
        #expect(config.storage.uploadPurging.dryRun)
        #expect(config.http.headers.first?.0 == "X-Content-Type-Options")
    }

    @Test func unknownKeysWarnAndBadValuesNameTheirKey() throws {
        let warned = try RegistryConfiguration.parse(yaml: "version: 0.1\nstorage: {filesystem: {rootdirectory: /x, bogus: 1}}\n", environment: [:])
        #expect(warned.warnings.contains { $0.contains("storage.filesystem.bogus") })

        let bad = """
        version: 0.1
        log: {level: loud}
        storage: {s3: {bucket: b}, delete: {enabled: maybe}}
        http: {addr: nowhere}
        """
        do {
            _ = try RegistryConfiguration.parse(yaml: bad, environment: [:])
            Issue.record("expected a configuration error")
        } catch let error as ConfigurationError {
            let text = error.problems.joined(separator: "\n")
            for key in ["log.level", "storage.s3", "storage.delete.enabled", "http.addr"] {
                #expect(text.contains(key), "missing \(key) in \(text)")
            }
        }
    }

    /// Mappings inside lists: an unknown key of Berth's own lists (retention, immutable tags) is
    /// refused by its indexed path; one of Distribution's lists (notifications, health) warns.
    @Test func unknownKeysInsideListsAreNamedByIndex() throws {
        let refused = """
        version: 0.1
        storage: {maintenance: {retention: {policies: [{repositories: ["a/*"], keeptags: [{mostrecentlypushedcount: 2, bogus: 1}]}]}}}
        immutabletags: [{repositories: ["a/*"], tags: ["v*"], extra: true}]
        """
        #expect {
            _ = try RegistryConfiguration.parse(yaml: refused, environment: [:])
        } throws: { error in
            let problems = (error as? ConfigurationError)?.problems ?? []
            return problems.contains { $0.hasPrefix("storage.maintenance.retention.policies[0].keeptags[0].bogus: unknown key") }
                && problems.contains { $0.hasPrefix("immutabletags[0].extra: unknown key") }
        }
        let warned = try RegistryConfiguration.parse(yaml: """
            version: 0.1
            notifications: {endpoints: [{name: ci, url: "http://127.0.0.1:1/e", tiemout: 1s}]}
            health: {tcp: [{addr: "127.0.0.1:1", treshold: 2}]}
            """, environment: [:])
        #expect(warned.warnings.contains("notifications.endpoints[0].tiemout: unknown configuration key; ignored"))
        #expect(warned.warnings.contains("health.tcp[0].treshold: unknown configuration key; ignored"))
        #expect(warned.notifications.endpoints.map(\.name) == ["ci"])
    }

    /// Debian's own config.yml names a directory as its htpasswd file: `verify-config` must refuse
    /// it as `serve` would, not answer ok.
    @Test func anHtpasswdPathThatIsADirectoryIsRefused() {
        let yaml = "version: 0.1\nauth: {htpasswd: {realm: r, path: \(NSTemporaryDirectory())}}\n"
        do {
            _ = try RegistryConfiguration.parse(yaml: yaml, environment: [:])
            Issue.record("expected an error")
        } catch let error as ConfigurationError {
            #expect(error.problems.contains { $0.hasPrefix("auth.htpasswd.path: cannot read") })
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func embeddedDefaultServesLocalDataOnLoopback() throws {
        let config = try RegistryConfiguration.parse(yaml: RegistryConfiguration.embeddedDefault, environment: [:])
        #expect(config.http.address.host == "127.0.0.1")
        #expect(config.http.address.port == 5000)
        #expect(config.storage.rootDirectory == "./data")
    }

    @Test(arguments: [("24h", 86400.0), ("1h30m", 5400.0), ("10s", 10.0), ("500ms", 0.5)])
    func parsesGoDurations(_ text: String, _ seconds: Double) {
        #expect(ConfigurationTree.parseDuration(text) == seconds)
    }

    @Test(arguments: ["bytes=0-9", "bytes=5-", "bytes=-3", "bytes=20-30", "bytes=4-2", "items=0-1"])
    func parsesRanges(_ header: String) {
        let expected: [String: ByteRange] = [
            "bytes=0-9": .partial(0..<10), "bytes=5-": .partial(5..<10), "bytes=-3": .partial(7..<10),
            "bytes=20-30": .unsatisfiable, "bytes=4-2": .unsatisfiable, "items=0-1": .whole,
        ]
        #expect(ByteRange.parse(header, size: 10) == expected[header])
    }
}
