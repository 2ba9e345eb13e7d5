import CallTrackCore
import Foundation

/// A dynamic number held for one visitor until `expiresAt` (renewed by the snippet's heartbeat).
public struct Reservation: Sendable, Equatable, Codable {
    public var id, projectKey, clientID: String
    public var number: PhoneNumber
    public var poolName: String
    public var createdAt, expiresAt: Date
    /// The client address that asked for it: one address may hold only so many numbers.
    public var address: String?

    public init(
        id: String, projectKey: String, clientID: String, number: PhoneNumber, poolName: String, createdAt: Date,
        expiresAt: Date, address: String? = nil
    ) {
        self.id = id
        self.projectKey = projectKey
        self.clientID = clientID
        self.number = number
        self.poolName = poolName
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.address = address
    }
}

/// What a visitor is shown: a pool number held for them, or the pool's static number when none is free.
public struct NumberAssignment: Sendable, Equatable {
    public enum Kind: String, Sendable { case dynamic, `static` }
    public var kind: Kind
    public var number: PhoneNumber
    /// The number written like the business number on the site (`+7 (499) 000-00-01`).
    public var formatted: String
    public var reservation: Reservation?
}

/// Changes the persistence layer records, in order.
public enum TrackingChange: Sendable, Codable {
    case visit(Visit)
    /// A new or renewed reservation.
    case reserved(Reservation)
    /// The number is free again (expired, or released after a call).
    case released(reservationID: String, number: PhoneNumber, at: Date)
    /// Every pool number was taken `count` times (each visitor got the static number), the first at `at`.
    case exhausted(projectKey: String, pool: String, at: Date, count: Int)
    /// A client address already held its share of numbers `count` times (it got the static number).
    case addressLimited(projectKey: String, pool: String, at: Date, count: Int)
}

/// What Tracking loads back at start: live reservations, the visits of the visitors holding them,
/// when each number was last freed.
public struct TrackingSnapshot: Sendable {
    public var reservations: [Reservation]
    public var visits: [Visit]
    public var releasedAt: [PhoneNumber: Date]
    public init(reservations: [Reservation] = [], visits: [Visit] = [], releasedAt: [PhoneNumber: Date] = [:]) {
        self.reservations = reservations
        self.visits = visits
        self.releasedAt = releasedAt
    }
}

/// Formats numbers the way the business number is written on the site.
public enum NumberFormat {
    /// Puts `number`'s national digits into the last digit places of `template`, keeping the
    /// template's prefix and punctuation: `+7 (495) 123-45-67` gives `+7 (499) 000-00-01`,
    /// `8 495 123-45-67` gives `8 499 000-00-01`. E.164 when there is no template.
    public static func format(_ number: PhoneNumber, like template: String?, nationalDigits: Int = 10) -> String {
        guard let template else { return number.e164 }
        let digits = Array(number.e164.dropFirst())
        let slots = template.filter(\.isASCIIDigit).count
        let replace = min(slots, nationalDigits, digits.count)
        guard replace > 0 else { return number.e164 }
        var source = digits.suffix(replace).makeIterator()
        var skip = slots - replace
        return String(
            template.map { c -> Character in
                guard c.isASCIIDigit else { return c }
                if skip > 0 {
                    skip -= 1
                    return c
                }
                return source.next() ?? c
            })
    }
}
