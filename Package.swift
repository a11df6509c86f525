// swift-tools-version:6.1
import PackageDescription

let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let hummingbirdTesting = Target.Dependency.product(name: "HummingbirdTesting", package: "hummingbird")
let asyncHTTPClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")
let grdb = Target.Dependency.product(name: "GRDB", package: "GRDB.swift")
let postgres = Target.Dependency.product(name: "PostgresNIO", package: "postgres-nio")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let yams = Target.Dependency.product(name: "Yams", package: "Yams")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let prometheus = Target.Dependency.product(name: "Prometheus", package: "swift-prometheus")
let serviceLifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let nioHTTP1 = Target.Dependency.product(name: "NIOHTTP1", package: "swift-nio")
let nioSSL = Target.Dependency.product(name: "NIOSSL", package: "swift-nio-ssl")
let nioHTTPTypes = Target.Dependency.product(name: "NIOHTTPTypes", package: "swift-nio-extras")
let httpTypes = Target.Dependency.product(name: "HTTPTypes", package: "swift-http-types")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let tracing = Target.Dependency.product(name: "Tracing", package: "swift-distributed-tracing")
let inMemoryTracing = Target.Dependency.product(name: "InMemoryTracing", package: "swift-distributed-tracing")
let otel = Target.Dependency.product(name: "OTel", package: "swift-otel")
let mustache = Target.Dependency.product(name: "Mustache", package: "swift-mustache")

let package = Package(
    name: "switchyard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "switchyard", targets: ["SwitchyardCLI"]),
        .library(name: "SwitchyardServer", targets: ["SwitchyardServer"]),
        // Exported for the fuzz package in Fuzz/, which links the parsers without the server.
        .library(name: "SwitchyardCore", targets: ["SwitchyardCore"]),
        .library(name: "SwitchyardProviders", targets: ["SwitchyardProviders"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.0"),
        // OTLP over HTTP only: the default traits would add gRPC.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        .target(
            name: "SwitchyardCore",
            dependencies: [nioCore, httpTypes, logging, metrics, tracing, yams, crypto],
            resources: [.copy("Catalog/catalog.json")]
        ),
        .target(
            name: "SwitchyardProviders",
            dependencies: ["SwitchyardCore", nioCore, nioPosix, nioHTTP1, nioSSL, httpTypes, logging, crypto]
        ),
        .target(
            name: "SwitchyardStorage",
            dependencies: ["SwitchyardCore", logging, grdb, postgres, serviceLifecycle]
        ),
        .target(
            name: "SwitchyardServer",
            dependencies: [
                "SwitchyardCore", "SwitchyardProviders", "SwitchyardStorage",
                nioCore, nioPosix, nioHTTPTypes, httpTypes, logging, metrics, hummingbird, serviceLifecycle, prometheus,
                tracing, otel, mustache, crypto, .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        .executableTarget(
            name: "SwitchyardCLI",
            dependencies: [
                "SwitchyardCore", "SwitchyardServer", "SwitchyardProviders", "SwitchyardStorage", argumentParser,
                logging, metrics,
                prometheus, nioPosix, nioCore,
            ]
        ),
        .target(
            name: "SwitchyardTesting",
            dependencies: [
                "SwitchyardCore", "SwitchyardServer", nioCore, httpTypes, hummingbird, hummingbirdTesting,
                asyncHTTPClient, logging, nioHTTP1, tracing,
            ]
        ),
        .testTarget(
            name: "SwitchyardCoreTests",
            // The provider types come from the providers module: configuration tests decode real sections.
            dependencies: [
                "SwitchyardCore", "SwitchyardProviders", nioCore, logging, metrics, tracing, inMemoryTracing,
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "SwitchyardProvidersTests",
            dependencies: ["SwitchyardCore", "SwitchyardProviders", nioCore, nioPosix, nioHTTP1, logging],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "SwitchyardServerTests",
            dependencies: [
                "SwitchyardCore", "SwitchyardServer", "SwitchyardStorage", "SwitchyardTesting", "SwitchyardProviders",
                nioCore, nioPosix, httpTypes, hummingbird, hummingbirdTesting, asyncHTTPClient, logging, prometheus,
                tracing, inMemoryTracing, .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        .testTarget(
            name: "SwitchyardStorageTests",
            // Every store test runs on SQLite and on the PostgreSQL that scripts/test starts.
            dependencies: ["SwitchyardCore", "SwitchyardStorage", logging, grdb, postgres, serviceLifecycle]
        ),
    ]
)
