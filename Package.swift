// swift-tools-version: 6.1
import PackageDescription

/// Settings every SealDrop target shares: Swift 6 language mode (strict concurrency) plus
/// upcoming features that keep dependencies and existentials explicit.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "SealDrop",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "keyholder", targets: ["keyholder"]),
        .executable(name: "sealdrop", targets: ["sealdrop"]),
        .executable(name: "sealdropd", targets: ["sealdropd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: ["YAML"]),
        // The YAML parser swift-configuration reads with; used directly only to list a file's keys.
        .package(url: "https://github.com/jpsim/Yams", "6.0.0"..<"7.0.0"),
        // The upload page's HTTP/1 server: HummingbirdCore's Server and child channel (not
        // Hummingbird's Application, which always sends a Date header).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.4.0"),
    ],
    targets: [
        // The only bridge to C: libsodium from Debian's libsodium-dev, linked through its pkg-config
        // file (the module map names no library), which Scripts/package points at the static archive.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // Typed Swift API over libsodium. The only target that imports CSodium.
        .target(name: "SealDropCrypto", dependencies: ["CSodium"], swiftSettings: strictSettings),
        // Public-key text form, fingerprints, passphrase-protected secret key files.
        .target(name: "SealDropKeys", dependencies: ["SealDropCrypto"], swiftSettings: strictSettings),
        // The at-rest submission envelope (format v1) and its specification; the drop's signed
        // texts (provenance records, export manifests), which name submissions by their IDs.
        .target(name: "SealDropFormat", dependencies: ["SealDropCrypto", "SealDropKeys", "SealDropStore"], swiftSettings: strictSettings),
        // The spool's layout and submission IDs, shared by the daemon and the keyholder (no NIO).
        .target(name: "SealDropStore", dependencies: ["SealDropCrypto"], swiftSettings: strictSettings),
        // The TCP protocol: bounded request framing, replies and error codes, its specification.
        .target(
            name: "SealDropWire",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        // Terminal helpers shared by the offline CLIs: error/hint messages, passphrases, escaping.
        .target(name: "SealDropCLISupport", dependencies: ["SealDropCrypto", "SealDropKeys", "SealDropFormat", "SealDropStore"], swiftSettings: strictSettings),
        // The keyholder's logic (archive, import, list, verify, decrypt, rekey, rotate, retire),
        // called in-process by its tests; the `keyholder` executable only parses and prints. No NIO.
        .target(
            name: "SealDropKeyholder",
            dependencies: ["SealDropCrypto", "SealDropKeys", "SealDropFormat", "SealDropStore", "SealDropCLISupport"],
            exclude: ["EFFWordList.LICENSE.txt"],
            swiftSettings: strictSettings
        ),

        // The daemon as a Service: accept loop, limits, sealing writer, spool commit, config.
        .target(
            name: "SealDropServer",
            dependencies: [
                "SealDropWire", "SealDropFormat", "SealDropKeys", "SealDropStore", "SealDropCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings
        ),
        // The no-JavaScript upload page: an HTTP front door over the daemon's upload pipeline,
        // with its streaming multipart reader, its pages and their texts.
        .target(
            name: "SealDropWeb",
            dependencies: [
                "SealDropServer", "SealDropWire", "SealDropFormat",
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "sealdropd",
            dependencies: [
                "SealDropServer", "SealDropFormat", "SealDropWeb", "SealDropCLISupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "keyholder",
            dependencies: [
                "SealDropKeyholder", "SealDropCrypto", "SealDropKeys", "SealDropFormat", "SealDropStore", "SealDropCLISupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // The source's client on the network: KEYS verified against the pinned key, sealing while
        // sending, SOCKS5 with fresh credentials per run (NIOSOCKS plus RFC 1929).
        .target(
            name: "SealDropClient",
            dependencies: [
                "SealDropCrypto", "SealDropKeys", "SealDropFormat", "SealDropWire", "SealDropCLISupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSOCKS", package: "swift-nio-extras"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "sealdrop",
            dependencies: [
                "SealDropClient", "SealDropCrypto", "SealDropKeys", "SealDropFormat", "SealDropCLISupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),

        // Helpers for tests that run the real binaries: paths, processes, temp folders, keys.
        .target(
            name: "SealDropTestSupport",
            dependencies: ["SealDropKeys", "SealDropCrypto"],
            path: "Tests/SealDropTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealDropServerTests",
            dependencies: [
                "SealDropServer", "SealDropWire", "SealDropFormat", "SealDropKeys", "SealDropStore", "SealDropCrypto",
                "SealDropTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["SealDropFormat", "SealDropKeys", "SealDropStore", "SealDropTestSupport"],
            exclude: ["Browser"],
            swiftSettings: strictSettings
        ),
        // Writes the committed format test vectors (run by hand: see its first line).
        .executableTarget(
            name: "MakeVectors",
            dependencies: ["SealDropFormat", "SealDropKeys", "SealDropCrypto"],
            path: "Tests/MakeVectors",
            swiftSettings: strictSettings
        ),
        .testTarget(name: "SealDropCryptoTests", dependencies: ["SealDropCrypto"], swiftSettings: strictSettings),
        .testTarget(
            name: "SealDropWireTests",
            dependencies: [
                "SealDropWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealDropClientTests",
            dependencies: [
                "SealDropClient", "SealDropKeys", "SealDropCrypto", "SealDropFormat", "SealDropCLISupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSOCKS", package: "swift-nio-extras"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealDropWebTests",
            dependencies: ["SealDropWeb", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "SealDropKeysTests", dependencies: ["SealDropKeys"], swiftSettings: strictSettings),
        .testTarget(
            name: "SealDropKeyholderTests",
            dependencies: ["SealDropKeyholder", "SealDropCLISupport", "SealDropFormat", "SealDropKeys", "SealDropCrypto", "SealDropStore", "SealDropTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealDropCLISupportTests",
            dependencies: ["SealDropCLISupport", "SealDropFormat", "SealDropKeys", "SealDropCrypto", "SealDropTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealDropFormatTests",
            dependencies: ["SealDropFormat", "SealDropKeys", "SealDropCrypto", "SealDropStore"],
            resources: [.copy("Vectors")],
            swiftSettings: strictSettings
        ),
    ]
)

// libFuzzer targets (Tests/Fuzz), one per parser of untrusted bytes, only when SEALDROP_FUZZ is
// set: libFuzzer provides their main, so an ordinary build could not link them. Scripts/fuzz
// builds them with `--sanitize fuzzer --sanitize address -Xswiftc -sanitize=fuzzer,address
// -Xswiftc -parse-as-library` in
// `.build-fuzz` and runs each.
if Context.environment["SEALDROP_FUZZ"] != nil {
    package.targets.append(.target(name: "FuzzSupport", path: "Tests/Fuzz/FuzzSupport"))
    let fuzzTargets: [(String, [Target.Dependency])] = [
        ("FuzzRequests", ["SealDropWire", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio")]),
        ("FuzzUploadForm", ["SealDropWeb", .product(name: "NIOCore", package: "swift-nio")]),
        ("FuzzWebFrontDoor", ["SealDropWeb", "SealDropServer", .product(name: "NIOCore", package: "swift-nio"),
                              .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types"),
                              .product(name: "NIOHTTPTypes", package: "swift-nio-extras")]),
        ("FuzzEnvelopeHeader", ["SealDropFormat"]),
        ("FuzzMetadata", ["SealDropFormat"]),
        ("FuzzProvenance", ["SealDropFormat"]),
        ("FuzzEnvelope", ["SealDropFormat", "SealDropKeys", "SealDropCrypto"]),
        ("FuzzKeyFiles", ["SealDropKeys", "SealDropCrypto"]),
        ("FuzzKeyText", ["SealDropKeys", "SealDropCrypto"]),
        ("FuzzDropAddress", ["SealDropKeys"]),
        ("FuzzSignedRecipients", ["SealDropKeys", "SealDropCrypto"]),
        ("FuzzRecipients", ["SealDropKeys"]),
        ("FuzzExportManifest", ["SealDropFormat"]),
        ("FuzzSendState", ["SealDropClient"]),
        ("FuzzKeyholderRecords", ["SealDropKeyholder"]),
        ("FuzzDaemonFiles", ["SealDropServer"]),
    ]
    for (name, dependencies) in fuzzTargets {
        package.targets.append(.executableTarget(name: name, dependencies: ["FuzzSupport"] + dependencies, path: "Tests/Fuzz/\(name)"))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
