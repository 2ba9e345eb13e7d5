import Foundation
import Synchronization

/// Whether each endpoint (scheme, host and port) takes deliveries, shared by the workers of every URL on
/// it. While an endpoint fails, one delivery at a time probes it: the first a second after the failure,
/// then twice as long each time, at most `delivery.probe_max_seconds` apart; the other deliveries wait
/// and spend no attempts. The first probe it takes ends the outage, and the backlog goes at once.
final class EndpointHealth: Sendable {
    private struct Outage {
        var reason: String
        var nextProbe: Date
        var wait: Double
        var probing = false
    }

    private let outages = Mutex<[String: Outage]>([:])
    private let probeMaxSeconds: Double

    init(probeMaxSeconds: Double) { self.probeMaxSeconds = probeMaxSeconds }

    /// Why the endpoint fails, while it does.
    func failing(_ endpoint: String) -> String? { outages.withLock { $0[endpoint]?.reason } }

    /// The endpoint did not take a delivery: true when this starts an outage.
    func failed(_ endpoint: String, reason: String, now: Date) -> Bool {
        outages.withLock { all in
            guard all[endpoint] == nil else { return false }
            let first = min(1, probeMaxSeconds)
            all[endpoint] = Outage(reason: reason, nextProbe: now.addingTimeInterval(first), wait: first)
            return true
        }
    }

    /// Whether the caller may send the probe now (one worker at a time, once it is due).
    func claimProbe(_ endpoint: String, now: Date) -> Bool {
        outages.withLock { all in
            guard var outage = all[endpoint], !outage.probing, now >= outage.nextProbe else { return false }
            outage.probing = true
            all[endpoint] = outage
            return true
        }
    }

    /// The probe failed too (or could not be sent): the next waits twice as long, up to the maximum.
    func probeFailed(_ endpoint: String, reason: String, now: Date) {
        outages.withLock { all in
            guard var outage = all[endpoint] else { return }
            outage.wait = min(probeMaxSeconds, outage.wait * 2)
            outage.nextProbe = now.addingTimeInterval(outage.wait)
            outage.reason = reason
            outage.probing = false
            all[endpoint] = outage
        }
    }

    /// A probe that found nothing to send: the next is due as soon as there is one.
    func probeSkipped(_ endpoint: String) { outages.withLock { $0[endpoint]?.probing = false } }

    /// The endpoint answered: the outage is over; its reason, if there was one.
    @discardableResult func recovered(_ endpoint: String) -> String? {
        outages.withLock { $0.removeValue(forKey: endpoint)?.reason }
    }
}
