import Foundation
import Synchronization

/// A token bucket per client address: `perMinute` requests a minute, with bursts of the same size.
public final class RateLimiter: Sendable {
    private struct Bucket { var tokens, updated: Double }
    private let perMinute: Double
    private let buckets = Mutex<[String: Bucket]>([:])

    public init(perMinute: Int) { self.perMinute = Double(max(1, perMinute)) }

    /// Takes one token for `address`; false when its bucket is empty.
    public func allow(_ address: String, now: Double = Date().timeIntervalSince1970) -> Bool {
        buckets.withLock { all in
            if all.count > 100_000 {  // forget idle clients rather than grow without bound
                all = all.filter { now - $0.value.updated < 120 }
            }
            var b = all[address] ?? Bucket(tokens: perMinute, updated: now)
            b.tokens = min(perMinute, b.tokens + (now - b.updated) * perMinute / 60)
            b.updated = now
            guard b.tokens >= 1 else {
                all[address] = b
                return false
            }
            b.tokens -= 1
            all[address] = b
            return true
        }
    }
}
