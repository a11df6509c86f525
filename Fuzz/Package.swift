// swift-tools-version:6.1
// SPDX-License-Identifier: Apache-2.0

// libFuzzer targets for Switchyard's hand-written parsers. A separate package, so that normal builds
// and tests never compile them: they only link with `--sanitize=fuzzer` (see scripts/fuzz).

import Foundation
import PackageDescription

// A path dependency is identified by its directory name, which differs between checkouts.
let switchyard = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent.lowercased()
let core = Target.Dependency.product(name: "SwitchyardCore", package: switchyard)
let providers = Target.Dependency.product(name: "SwitchyardProviders", package: switchyard)
let server = Target.Dependency.product(name: "SwitchyardServer", package: switchyard)
let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
// Temporary filters for known bugs, so a target that keeps hitting one can still find others.

let package = Package(
    name: "switchyard-fuzz",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "FuzzChatRequest", targets: ["FuzzChatRequest"]),
        .executable(name: "FuzzEmbeddingsRequest", targets: ["FuzzEmbeddingsRequest"]),
        .executable(name: "FuzzJSON", targets: ["FuzzJSON"]),
        .executable(name: "FuzzSSE", targets: ["FuzzSSE"]),
        .executable(name: "FuzzUpstreamAnswer", targets: ["FuzzUpstreamAnswer"]),
        .executable(name: "FuzzConfig", targets: ["FuzzConfig"]),
        .executable(name: "FuzzUpstreamURL", targets: ["FuzzUpstreamURL"]),
        .executable(name: "FuzzDialects", targets: ["FuzzDialects"]),
        .executable(name: "FuzzBrowserGuard", targets: ["FuzzBrowserGuard"]),
        .executable(name: "FuzzToolCalls", targets: ["FuzzToolCalls"]),
        .executable(name: "FuzzTokens", targets: ["FuzzTokens"]),
        .executable(name: "FuzzCache", targets: ["FuzzCache"]),
    ],
    dependencies: [
        .package(path: ".."),
        // The same requirement as the gateway's, so it resolves to the same version: ByteBuffer for FuzzDialects.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(name: "FuzzChatRequest", dependencies: [core]),
        .executableTarget(name: "FuzzEmbeddingsRequest", dependencies: [core]),
        .executableTarget(name: "FuzzJSON", dependencies: [core]),
        .executableTarget(name: "FuzzSSE", dependencies: [core]),
        .executableTarget(name: "FuzzUpstreamAnswer", dependencies: [core, providers]),
        .executableTarget(name: "FuzzConfig", dependencies: [core, providers]),
        .executableTarget(name: "FuzzUpstreamURL", dependencies: [providers]),
        .executableTarget(name: "FuzzDialects", dependencies: [core, providers, nioCore]),
        .executableTarget(name: "FuzzBrowserGuard", dependencies: [core, server]),
        .executableTarget(name: "FuzzToolCalls", dependencies: [core]),
        .executableTarget(name: "FuzzTokens", dependencies: [core, server]),
        .executableTarget(name: "FuzzCache", dependencies: [core]),
    ]
)
