// swift-tools-version:6.0
import PackageDescription

// No package dependencies: Foundation, Dispatch, Glibc and the system SQLite only.

/// The hot modules skip Swift's dynamic exclusivity checks (every access to a class's
/// `var` property is otherwise checked at run time); static checks remain.
let hot: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "pfp",
    platforms: [.macOS(.v13)],
    // Only the executable: no library surface. The modules above the evaluation
    // (PFPEmit, PFPRun, PFPSample, PFPCommandLine) declare `package`; those on the
    // hot path declare `public`, because Swift's cross-module optimisation inlines
    // only public bodies (all `package`: 20 % more CPU at 1M, docs/PERFORMANCE.md).
    products: [
        .executable(name: "pfp", targets: ["pfp"]),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // C where Swift cannot reach: SHA-256 with a SHA-NI path chosen at run time
        // (portable fallback), and renameat2(RENAME_EXCHANGE) for atomic republishing.
        .target(name: "CPFPNative"),
        .target(name: "PFPCore", dependencies: ["CSQLite", "CPFPNative"]),
        // The contract's shapes: catalogues, feeds, the pipeline's configuration and
        // the households the rules read. Below both the ingest and the rule engine.
        .target(name: "PFPSchema", dependencies: ["PFPCore"]),
        // The published formats' bytes: a byte writer, JSON strings and numbers, CSV fields.
        .target(name: "PFPFormats", dependencies: ["PFPCore"], swiftSettings: hot),
        .target(name: "PFPIngest", dependencies: ["PFPCore", "PFPSchema", "CPFPNative"], swiftSettings: hot),
        .target(name: "PFPRules", dependencies: ["PFPCore", "PFPSchema"], swiftSettings: hot),
        .target(name: "PFPProfile", dependencies: ["PFPCore", "PFPSchema", "PFPIngest", "PFPRules"], swiftSettings: hot),
        .target(name: "PFPMatch", dependencies: ["PFPCore", "PFPSchema", "PFPFormats", "PFPIngest", "PFPRules", "PFPProfile"], swiftSettings: hot),
        .target(name: "PFPEmit", dependencies: ["PFPCore", "PFPSchema", "PFPFormats", "PFPIngest", "PFPRules", "PFPMatch"], swiftSettings: hot),
        .target(name: "PFPSample", dependencies: ["PFPCore"]),
        .target(name: "PFPRun", dependencies: ["PFPCore", "PFPSchema", "PFPFormats", "PFPIngest", "PFPRules", "PFPProfile", "PFPMatch", "PFPEmit"], swiftSettings: hot),
        // The command line as types: each command declared once (parser, usage and help).
        .target(name: "PFPCommandLine", dependencies: ["PFPCore", "PFPSchema", "PFPIngest", "PFPRules", "PFPSample", "PFPRun"]),
        .executableTarget(name: "pfp", dependencies: ["PFPCore", "PFPCommandLine"]),
        // Shared by the test targets: the repository root and running the built pfp.
        .target(name: "PFPTestSupport", path: "Tests/PFPTestSupport"),
        .testTarget(name: "PFPCoreTests", dependencies: ["PFPCore"]),
        .testTarget(name: "PFPSchemaTests", dependencies: ["PFPCore", "PFPSchema", "PFPTestSupport"]),
        .testTarget(name: "PFPFormatsTests", dependencies: ["PFPCore", "PFPFormats"]),
        .testTarget(name: "PFPCommandLineTests", dependencies: ["PFPCore", "PFPCommandLine", "PFPRun", "PFPTestSupport"]),
        .testTarget(name: "PFPIngestTests", dependencies: ["PFPCore", "PFPSchema", "PFPIngest", "PFPRules", "PFPSample", "PFPRun", "PFPTestSupport"]),
        .testTarget(name: "PFPRulesTests", dependencies: ["PFPCore", "PFPSchema", "PFPIngest", "PFPRules", "PFPRun", "PFPTestSupport"]),
        .testTarget(name: "PFPProfileTests", dependencies: ["PFPCore", "PFPSchema", "PFPIngest", "PFPRules", "PFPProfile", "PFPRun", "PFPTestSupport"]),
        .testTarget(name: "PFPMatchTests", dependencies: ["PFPCore", "PFPSchema", "PFPFormats", "PFPRules", "PFPMatch"]),
        .testTarget(name: "PFPEmitTests", dependencies: ["PFPCore", "PFPSchema", "PFPFormats", "PFPIngest", "PFPRules", "PFPMatch", "PFPEmit", "PFPTestSupport"]),
        .testTarget(name: "PFPSampleTests", dependencies: ["PFPCore", "PFPSchema", "PFPIngest", "PFPSample", "PFPTestSupport"]),
        .testTarget(name: "PFPRunTests", dependencies: ["PFPCore", "PFPSchema", "PFPIngest", "PFPRules", "PFPMatch", "PFPEmit", "PFPRun", "PFPSample", "PFPTestSupport"]),
    ]
)
