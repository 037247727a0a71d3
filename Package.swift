// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "berth",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "berth-registry", targets: ["berth-registry"]),
        .executable(name: "berth-auth", targets: ["berth-auth"]),
        .executable(name: "berth", targets: ["berth"]),
        .executable(name: "berth-init", targets: ["berth-init"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", exact: "2.5.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", exact: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", exact: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", exact: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", exact: "1.35.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", exact: "1.21.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", exact: "1.33.2"),
    ],
    targets: [
        // SHA-256/512 whose running state can be saved and restored (OpenSSL's contexts), so an
        // upload's digest carries on across nodes and restarts without reading the bytes back.
        .target(name: "CDigestState", linkerSettings: [.linkedLibrary("crypto")]),
        // Value types of the OCI specs; validation in initialisers, no I/O.
        .target(name: "OCI", dependencies: ["CDigestState"]),
        // System SQLite (WAL) for the metadata store.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // The few Linux calls Swift's Glibc module does not export.
        .target(name: "CLinuxShim"),
        // POSIX helpers below the stores and the engine: SystemError, EINTR-safe calls, atomic
        // file writes, file locks, subprocesses.
        .target(name: "SystemSupport"),
        // The storage-driver seam (filesystem today) and its layout.
        .target(name: "RegistryStorage", dependencies: [
            "OCI", "CLinuxShim", "SystemSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // The async metadata store (SQLite today), blocking work on threads of its own.
        .target(name: "RegistryMetadata", dependencies: [
            "OCI", "CSQLite",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        // The registry's operations: uploads, manifests, tags, listings, deletes, GC, retention, events.
        .target(name: "RegistryCore", dependencies: [
            "OCI", "RegistryStorage", "RegistryMetadata",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        // Scopes, challenges, htpasswd/bcrypt, JWT verification.
        .target(name: "RegistryAuth", dependencies: [
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
        ]),
        // What both servers share: their config files' reader (the YAML tree with environment
        // overrides, key-path errors and unknown-key warnings), listen addresses, TLS, metrics.
        .target(name: "ServerConfiguration", dependencies: [
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // Amazon S3 and compatible stores (Ceph RGW, MinIO): AWS Signature Version 4 and the
        // object and multipart calls the registry's S3 storage driver needs, over AsyncHTTPClient.
        .target(name: "S3", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The registry's storage in an S3 bucket, at Distribution's object keys.
        .target(name: "S3Storage", dependencies: [
            "S3", "RegistryStorage",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // HTTP only: routes, auth, headers and the one error mapping, over RegistryCore.
        .target(name: "RegistryServer", dependencies: [
            "OCI", "RegistryCore", "RegistryStorage", "RegistryMetadata", "RegistryAuth", "ServerConfiguration", "S3", "S3Storage",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .target(name: "TokenService", dependencies: [
            "OCI", "RegistryAuth", "ServerConfiguration",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "berth-registry", dependencies: [
            "RegistryServer", "RegistryCore", "RegistryStorage", "RegistryMetadata", "ServerConfiguration",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "berth-auth", dependencies: [
            "TokenService", "ServerConfiguration",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Client side: registry protocol over AsyncHTTPClient (auth, push, pull, mount, chunked upload).
        .target(name: "RegistryClient", dependencies: [
            "OCI",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // Local OCI image layout store (blobs/sha256, index.json), safe across processes.
        .target(name: "ImageStore", dependencies: [
            "OCI", "SystemSupport",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // Moves images between a registry and the local store: pull and push.
        .target(name: "ImageTransfer", dependencies: [
            "OCI", "ImageStore", "RegistryClient", "SystemSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // Layer unpacking into overlay snapshots (libarchive; whiteouts in overlay form, no escapes).
        .target(name: "CLayerArchive", linkerSettings: [.linkedLibrary("archive")]),
        // Namespace setup before the Swift runtime starts (a constructor, like runc's nsexec).
        .target(name: "CContainerInit"),
        // The init as its own small C program, spawned by `berth` (found beside it) for speed.
        .executableTarget(name: "berth-init", dependencies: ["CContainerInit"]),
        // The container engine: snapshots, container records, cgroups, bridge networks, supervision.
        .target(name: "ContainerEngine", dependencies: [
            "OCI", "ImageStore", "SystemSupport", "CLayerArchive", "CContainerInit", "CLinuxShim",
        ]),
        .executableTarget(name: "berth", dependencies: [
            "OCI", "RegistryClient", "ImageStore", "ImageTransfer", "ContainerEngine",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "RegistryClientTests", dependencies: [
            "RegistryClient", .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "ImageStoreTests", dependencies: [
            "ImageStore", "OCI", .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "ContainerEngineTests", dependencies: ["ContainerEngine", "OCI"]),
        .testTarget(name: "OCITests", dependencies: ["OCI", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "RegistryStorageTests", dependencies: [
            "RegistryStorage", "OCI", .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "RegistryCoreTests", dependencies: [
            "RegistryCore", "RegistryMetadata", "RegistryStorage", "OCI",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "RegistryMetadataTests", dependencies: [
            "RegistryMetadata", "OCI", .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        .testTarget(name: "RegistryAuthTests", dependencies: [
            "RegistryAuth",
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "RegistryServerTests", dependencies: [
            "RegistryServer", "ServerConfiguration", "OCI",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "S3Tests", dependencies: [
            "S3",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["botocore_sign.py"], resources: [.copy("SigV4TestSuite")]),
        .testTarget(name: "S3StorageTests", dependencies: [
            "S3Storage", "S3", "RegistryCore", "RegistryMetadata", "RegistryStorage", "OCI",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "TokenServiceTests", dependencies: ["TokenService", "RegistryAuth", "ServerConfiguration"]),
    ]
)
