import CallTrackCore
import Foundation
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import Prometheus
import Storage
import TestSupport
import Tracking

/// The API of a one-project configuration on a fresh database (a SQLite file unless a test names
/// another engine), served by Hummingbird's live test server; tests reach the stores directly to put
/// calls, visits and sales in place.
enum APIFixture {
    static let token = "api-test-token"

    struct Stores: Sendable {
        let calls: CallRecordStore
        let tracking: TrackingStore
        let database: any SQLDatabase
    }

    static func run(
        on backend: Backend = .sqlite, reservationsPerMinute: Int = 120, project extra: String = "",
        _ body: @escaping @Sendable (any TestClientProtocol, Stores) async throws -> Void
    ) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try ConfigLoader.parse(
            yaml: """
                projects:
                  - key: shop
                    forward_to: sip:+74951234567@127.0.0.1:5070
                    origins: [http://shop.test]
                    site_numbers: ["+7 (495) 123-45-67"]
                    pools: [{name: main, numbers: ["+74990000001", "+74990000002"], static: "+74990000000"}]
                    offline: [{number: "+74990000100", channel: billboard}]
                \(extra)
                """)
        try await backend.withDatabase { database in
            let stores = Stores(
                calls: CallRecordStore(database: database, numbering: config.numbering),
                tracking: TrackingStore(database: database), database: database)
            let deps = APIDependencies(
                calls: stores.calls, tracking: stores.tracking, outbox: Outbox(database: database),
                recordingsFolder: dir.path, adminTokens: [token], statistics: CallStatistics(),
                projects: config.projects.map { PublicProject(config: $0, numbering: config.numbering) },
                numbers: NumberPoolBook(config: config, persist: { _ in }),
                reservationsPerMinute: reservationsPerMinute, metrics: PrometheusCollectorRegistry(), activeCalls: { 0 }
            )
            try await Application(router: buildRouter(deps)).test(.live) { client in try await body(client, stores) }
        }
    }
}
