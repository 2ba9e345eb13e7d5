import CallTrackCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Storage
import TestSupport
import Testing
import Tracking

/// The pool planner replays a visit log whose answer is known.
@Suite("Pool planner") struct PoolPlanTests {
    @Test(
        "10 visitors always on site for 5 minutes each: the planner asks for the pool the arithmetic gives",
        arguments: Backend.allCases) func steadyVisitors(_ backend: Backend) async throws
    {
        try await APIFixture.run(on: backend) { client, stores in
            // A visitor arrives every 30 s for six hours and stays 300 s: 10 on the site at any time.
            // With the project's 360 s reservation a number is held 300 + 360 = 660 s, so 660 / 30 = 22
            // visitors hold one at once: 22 numbers serve everyone; with 21, one arrival in 22 finds
            // them all held (95.5 %), so a 95 % target needs 21.
            let start = Date().addingTimeInterval(-7 * 3600)
            let reservations = (0..<720).map { i -> TrackingChange in
                let arrival = start.addingTimeInterval(Double(i) * 30)
                return .reserved(
                    Reservation(
                        id: "r\(i)", projectKey: "shop", clientID: "v\(i)", number: PhoneNumber(e164: "+74990000001")!,
                        poolName: "main", createdAt: arrival, expiresAt: arrival.addingTimeInterval(300 + 360)))
            }
            try await stores.tracking.apply(reservations)
            let auth: HTTPFields = [.authorization: "Bearer \(APIFixture.token)"]
            func plan(_ target: Int) async throws -> [String: Any] {
                let r = try await client.execute(
                    uri: "/v1/projects/shop/pool-plan?days=1&target=\(target)", method: .get, headers: auth)
                #expect(r.status == .ok)
                return try #require(try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any])
            }
            let everyone = try await plan(100)
            #expect(everyone["visitors"] as? Int == 720 && everyone["reservation_seconds"] as? Int == 360)
            #expect(everyone["recommended_pool_size"] as? Int == 22)
            #expect(everyone["current_pool_size"] as? Int == 2)
            let options = try #require(everyone["options"] as? [[String: Any]])
            #expect(options.last?["pool_size"] as? Int == 22 && options.last?["served_percent"] as? Double == 100)
            let ninetyFive = try await plan(95)
            #expect(ninetyFive["recommended_pool_size"] as? Int == 21)
            let bad = try await client.execute(
                uri: "/v1/projects/shop/pool-plan?target=150", method: .get, headers: auth)
            #expect(bad.status == .badRequest)
        }
    }

    @Test("The reservation time covers 95 % of the calls that came after their visitor left, and never less than 120 s")
    func reservationFromCallDelays() {
        #expect(PoolPlanner.reservationSeconds(callDelays: [10, 50, 100, 200]) == 210)
        #expect(PoolPlanner.reservationSeconds(callDelays: [-30, 5]) == 120)
        #expect(PoolPlanner.reservationSeconds(callDelays: []) == nil)
    }
}
