import CallTrackCore
import Foundation
import HTTPAPI
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Storage
import Testing
import Tracking

/// The HTTP API's statuses, in process: the real router and stores on a real loopback socket
/// (Hummingbird's live test server), without a CallTrack process or SIP.
@Suite("HTTP API in process") struct APITests {
    static let token = APIFixture.token
    static let reservations = "/v1/projects/shop/reservations"

    private func withAPI(
        reservationsPerMinute: Int = 120, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await APIFixture.run(reservationsPerMinute: reservationsPerMinute) { client, _ in try await body(client) }
    }

    private func reserve(_ client: any TestClientProtocol, _ body: String, origin: String? = nil) async throws
        -> TestResponse
    {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let origin { headers[.origin] = origin }
        return try await client.execute(
            uri: Self.reservations, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    private func errorField(_ response: TestResponse) -> String? {
        let json = try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
        return (json?["error"] as? [String: Any])?["field"] as? String
    }

    @Test("Admin routes need a valid bearer token; health does not") func tokens() async throws {
        try await withAPI { client in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/v1/calls", method: .get).status == .unauthorized)
            let wrong = try await client.execute(
                uri: "/v1/calls", method: .get, headers: [.authorization: "Bearer wrong"])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.headers[.wwwAuthenticate]?.contains("Bearer") == true)
            let ok = try await client.execute(
                uri: "/v1/calls", method: .get, headers: [.authorization: "Bearer \(Self.token)"])
            #expect(ok.status == .ok)
        }
    }

    @Test("Bad parameters get 400 naming the field; unknown ids and projects 404") func badParameters() async throws {
        try await withAPI { client in
            let auth: HTTPFields = [.authorization: "Bearer \(Self.token)"]
            let bad = try await client.execute(uri: "/v1/calls?limit=0", method: .get, headers: auth)
            #expect(bad.status == .badRequest && errorField(bad) == "limit")
            #expect(
                try await client.execute(uri: "/v1/calls?cursor=..%2Fetc", method: .get, headers: auth).status
                    == .badRequest)
            #expect(
                try await client.execute(uri: "/v1/calls/ffffffffffffffffffffff", method: .get, headers: auth).status
                    == .notFound)
            #expect(
                try await client.execute(uri: "/v1/calls/..%2F..%2Fetc%2Fpasswd", method: .get, headers: auth).status
                    == .notFound)
            let body = ByteBuffer(string: #"{"client_id":"x1","page":"http://shop.test/"}"#)
            let unknown = try await client.execute(
                uri: "/v1/projects/nope/reservations", method: .post, headers: [.contentType: "application/json"],
                body: body)
            #expect(unknown.status == .notFound)
        }
    }

    @Test("CORS only for the project's origins; bad JSON 400 naming the field; oversize 413") func reservationInput()
        async throws
    {
        try await withAPI { client in
            let ok = #"{"client_id":"x1","page":"http://shop.test/"}"#
            let allowed = try await reserve(client, ok, origin: "http://shop.test")
            #expect(allowed.status == .ok)
            #expect(allowed.headers[.accessControlAllowOrigin] == "http://shop.test")
            let foreign = try await reserve(client, ok, origin: "http://evil.test")
            #expect(foreign.status == .forbidden && foreign.headers[.accessControlAllowOrigin] == nil)
            #expect(try await reserve(client, "{not json").status == .badRequest)
            let missing = try await reserve(client, #"{"page":"http://shop.test/"}"#)
            #expect(missing.status == .badRequest && errorField(missing) == "client_id")
            #expect(errorField(try await reserve(client, #"{"client_id":"a","page":"javascript:alert(1)"}"#)) == "page")
            // Analytics client ids are digits and dots, bounded.
            #expect(
                try await reserve(
                    client,
                    #"{"client_id":"g","page":"http://shop.test/","ga_client_id":"123.456","ym_client_id":"1700"}"#
                ).status == .ok)
            #expect(
                errorField(
                    try await reserve(client, #"{"client_id":"a","page":"http://shop.test/","ym_client_id":"1;DROP"}"#))
                    == "ym_client_id")
            let longGA =
                #"{"client_id":"a","page":"http://shop.test/","ga_client_id":""# + String(repeating: "1", count: 65)
                + #""}"#
            #expect(errorField(try await reserve(client, longGA)) == "ga_client_id")
            #expect(try await reserve(client, String(repeating: "a", count: 64 * 1024)).status == .contentTooLarge)
        }
    }

    @Test("Reservations are rate-limited per address: 429 past the limit") func rateLimit() async throws {
        try await withAPI(reservationsPerMinute: 5) { client in
            var statuses: [Int] = []
            for i in 0..<8 {
                statuses.append(
                    try await reserve(client, #"{"client_id":"c\#(i)","page":"http://shop.test/"}"#).status.code)
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == 200 }, "\(statuses)")
            #expect(statuses.suffix(3).allSatisfy { $0 == 429 }, "\(statuses)")
        }
    }
}
