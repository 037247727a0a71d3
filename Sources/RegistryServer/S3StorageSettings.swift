import AsyncHTTPClient
import Foundation
import S3
import S3Storage
import ServerConfiguration

/// `storage.s3`: blobs in an S3 bucket, with Distribution's keys.
///
/// ```yaml
/// storage:
///   s3:
///     accesskey: ...                        # required with secretkey (no instance roles)
///     secretkey: ...
///     region: us-east-1                     # required
///     regionendpoint: http://127.0.0.1:7480 # any S3-compatible endpoint; default AWS's for region
///     forcepathstyle: true                  # bucket in the path, not the host name (default false)
///     bucket: registry                      # required
///     rootdirectory: /registry              # optional key prefix
///     secure: true                          # https to AWS's endpoint (default true)
///     v4auth: true                          # only true is supported
///     chunksize: 10485760                   # multipart part size, at least 5 MiB
///     multipartcopychunksize: 33554432
///     multipartcopymaxconcurrency: 100
///     multipartcopythresholdsize: 33554432
///   redirect:
///     disable: false                        # true: blobs streamed through the node
/// ```
public struct S3StorageSettings: Sendable {
    public var configuration: S3Configuration
    public var driver: S3Driver.Settings

    /// The connections to the bucket, for the life of the process: enough per host for parallel
    /// part uploads and copies. A short connect timeout: the pool keeps trying to connect for that
    /// long before a request fails, and `S3Client` retries it, so with the endpoint down a client
    /// gets its 5xx after about ten seconds, not minutes.
    static let httpClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(
        timeout: .init(connect: .seconds(2)),
        connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)))

    static let keys = [
        "accesskey", "secretkey", "region", "regionendpoint", "forcepathstyle", "bucket", "rootdirectory", "secure",
        "v4auth", "chunksize", "multipartcopychunksize", "multipartcopymaxconcurrency", "multipartcopythresholdsize",
        "encrypt", "keyid", "storageclass", "useragent", "usedualstack", "accelerate", "loglevel", "objectacl",
        "skipverify", "sessiontoken",
    ].map { "storage.s3.\($0)" }

    /// The section's settings; nil (with the problems recorded) when they cannot make a driver.
    static func read(from tree: inout ConfigurationTree, redirectDisabled: Bool) -> S3StorageSettings? {
        let base = "storage.s3"
        var missing: [String] = []
        func required(_ key: String, _ tree: inout ConfigurationTree) -> String {
            guard let value = tree.string("\(base).\(key)"), !value.isEmpty else {
                missing.append(key)
                return ""
            }
            return value
        }
        let accessKey = required("accesskey", &tree)
        let secretKey = required("secretkey", &tree)
        let region = required("region", &tree)
        let bucket = required("bucket", &tree)
        for key in missing {
            tree.problem("\(base).\(key): required for the s3 storage driver"
                         + (key.hasSuffix("key") ? " (berth-registry takes no instance-role credentials)" : ""))
        }
        var endpoint: String?
        if let value = tree.string("\(base).regionendpoint") {
            if let url = URL(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil,
               url.path.isEmpty || url.path == "/", url.query == nil {
                endpoint = value
            } else {
                tree.problem("\(base).regionendpoint: \"\(value)\" is not an http(s)://host[:port] URL")
            }
        }
        if !tree.bool("\(base).v4auth", default: true) {
            tree.problem("\(base).v4auth: only AWS Signature Version 4 is supported (set it to true)")
        }
        let mib5 = S3Client.minimumPartSize
        var driver = S3Driver.Settings()
        driver.rootDirectory = tree.string("\(base).rootdirectory") ?? ""
        driver.chunkSize = tree.integer("\(base).chunksize", default: driver.chunkSize, in: mib5...(5 << 30),
                                        expected: "a part size of at least 5 MiB (5242880)")
        driver.copyChunkSize = Int64(tree.integer("\(base).multipartcopychunksize", default: Int(driver.copyChunkSize),
                                                  in: mib5...(5 << 30), expected: "a part size from 5 MiB to 5 GiB"))
        driver.copyConcurrency = tree.integer("\(base).multipartcopymaxconcurrency", default: driver.copyConcurrency,
                                              in: 1...10_000, expected: "a count of at least 1")
        driver.copyThreshold = Int64(tree.integer("\(base).multipartcopythresholdsize", default: Int(driver.copyThreshold),
                                                  in: 0...(5 << 30), expected: "a size up to 5 GiB"))
        driver.redirect = !redirectDisabled
        let configuration = S3Configuration(
            endpoint: endpoint, region: region, bucket: bucket,
            forcePathStyle: tree.bool("\(base).forcepathstyle", default: false),
            secure: tree.bool("\(base).secure", default: true),
            credentials: AWSCredentials(accessKey: accessKey, secretKey: secretKey,
                                        sessionToken: tree.string("\(base).sessiontoken")))
        guard missing.isEmpty else { return nil }
        return S3StorageSettings(configuration: configuration, driver: driver)
    }
}
