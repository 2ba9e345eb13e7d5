// swift-tools-version:6.0
import PackageDescription

/// The HTTP API's files built into the binary (`PackageResources.<name>_<extension>`).
let httpResources =
    ["snippet.js", "dashboard.css", "dashboard.js", "phrases.en.json", "phrases.ru.json"]
    + ["layout", "message", "signin", "report", "chart", "calls", "leads", "pool", "setup", "deliveries", "demo"].map {
        "Templates/\($0).mustache"
    }

let package = Package(
    name: "CallTrack", platforms: [.macOS(.v14)], products: [.executable(name: "calltrack", targets: ["calltrack"])],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.60.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.20.0"),
        // Webhooks: HMAC-SHA256 signatures, and HTTPS with certificate checks.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.21.0"),
        // Operating metrics: counted through swift-metrics, exposed as Prometheus text.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        // The dashboard's pages: Mustache templates escape every value unless a template says otherwise.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.0.0"),
        // Several nodes share one PostgreSQL: a pooled client that runs as a ServiceLifecycle service.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.21.0"),
    ],
    targets: [
        // The only module that includes libre's headers: umbrella header + shims for the
        // variadic and macro APIs Swift cannot call.
        .target(
            name: "CLibre", path: "CLibre", cSettings: [.define("HAVE_INTTYPES_H")],
            linkerSettings: [.linkedLibrary("re"), .linkedLibrary("rem")]),
        // G.722 (spandsp), Opus (libopus), G.729 (bcg729) and GSM (libgsm) for decoding recordings,
        // and libsoxr to bring them to the file's rate.
        .target(
            name: "CCodecs", path: "CCodecs",
            linkerSettings: [
                .linkedLibrary("spandsp"), .linkedLibrary("opus"), .linkedLibrary("bcg729"), .linkedLibrary("gsm"),
                .linkedLibrary("soxr"),
            ]),
        // Missed-call e-mail: libcurl speaks SMTP with STARTTLS and AUTH and checks certificates.
        .target(name: "CMail", path: "CMail", linkerSettings: [.linkedLibrary("curl")]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        // Domain types and configuration shared by every other module.
        .target(
            name: "CallTrackCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"), .product(name: "Metrics", package: "swift-metrics"),
            ]),
        // Routing: which trunk may send calls, which DID belongs to which project.
        .target(name: "Tracking", dependencies: ["CallTrackCore"]),
        // The B2BUA: SIP engine on libre's thread, call legs, RTP relay.
        .target(
            name: "Telephony",
            dependencies: [
                "CLibre", "CallTrackCore", .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ], cSettings: [.define("HAVE_INTTYPES_H")]),
        // Call recordings: RTP copies placed by timestamp into stereo WAV files, on their own queue.
        .target(
            name: "Recording",
            dependencies: [
                "CLibre", "CCodecs", "CallTrackCore", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ], cSettings: [.define("HAVE_INTTYPES_H")]),
        // The stores on SQLite or PostgreSQL, and the asynchronous batch writers.
        .target(
            name: "Storage",
            dependencies: [
                "CSQLite", "CallTrackCore", "Tracking", .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // Dashboard sessions shared by the nodes are stored as SHA-256 hashes of their ids.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ]),
        // HTTP API and dashboard on Hummingbird. The snippet, the dashboard's templates, style, script and
        // phrases are files under Resources/, built into the binary (nothing to install beside it).
        .target(
            name: "HTTPAPI",
            dependencies: [
                "CallTrackCore", "Storage", "Tracking", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                // The connection guard sits in Hummingbird's channel pipeline.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Mustache", package: "swift-mustache"),
                // A recording on another node is fetched from it.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ], resources: httpResources.map { .embedInCode("Resources/" + $0) }),
        // The outbox's sender: signed webhooks, GA4 events, Metrica uploads and missed-call e-mail,
        // retried with backoff, one worker per endpoint.
        .target(
            name: "Delivery",
            dependencies: [
                "CallTrackCore", "Storage", "CMail", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // Assembly: builds the services from a config and runs them.
        .target(
            name: "CallTrackApp",
            dependencies: [
                "CallTrackCore", "Tracking", "Telephony", "Storage", "HTTPAPI", "Recording", "Delivery",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .executableTarget(
            name: "calltrack",
            dependencies: [
                "CallTrackApp", "CallTrackCore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // What several test targets share: a fresh database on either engine (SQLite in a file, or a
        // PostgreSQL of the tests' own, initdb and pg_ctl in a temporary folder), and helper programs
        // started with posix_spawn.
        .target(
            name: "TestSupport", dependencies: ["Storage", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport"),
        .testTarget(
            name: "UnitTests",
            dependencies: [
                "CallTrackCore", "Tracking", "Storage", "TestSupport", "Telephony", "Recording", "CCodecs", "Delivery",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The HTTP API's statuses in process, on Hummingbird's live test server.
        .testTarget(
            name: "APITests",
            dependencies: [
                "CallTrackCore", "HTTPAPI", "Storage", "Tracking", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]),
        .testTarget(
            name: "IntegrationTests",
            // CCodecs' encoders make G.729 and GSM audio for the recording tests; Crypto checks webhook signatures.
            dependencies: [
                "CallTrackCore", "CCodecs", "TestSupport", .product(name: "Crypto", package: "swift-crypto"),
            ]),
    ])
