import CallTrackCore
import Foundation

/// The pools' side of a call: who a tracking number belongs to when its INVITE arrives, and the
/// number going back to the pool once the visitor has called (telephony sees only `CallAttributor`).
extension NumberPoolBook: CallAttributor {
    /// Who a call to `number` belongs to, at the moment its INVITE arrives. Nil for a number no pool knows.
    public func attribute(_ number: PhoneNumber, at now: Date = Date()) -> Attribution? {
        if case .now(let known) = layout.attributionFromConfiguration(number) { return known }
        var changes: [TrackingChange] = []
        let holder: (reservation: Reservation, late: Bool, visits: [Visit])? = state.withLock { s in
            expire(&s, now: now, changes: &changes)
            var late = false
            guard
                let r = s.byNumber[number]
                    ?? {
                        late = true
                        return s.expired[number]
                    }()
            else { return nil }
            return (r, late, (s.visits[Self.clientKey(r.projectKey, r.clientID)] ?? []).filter { $0.at <= now })
        }
        changes.forEach(persist)
        return layout.attribution(of: number, holder: holder)
    }

    /// After a call: the visitor has called, so their number can serve someone else.
    public func release(reservationID: String, number: PhoneNumber, at now: Date = Date()) {
        let released: Bool = state.withLock { s in
            let r: Reservation
            if let live = s.byNumber[number], live.id == reservationID {
                s.byNumber.removeValue(forKey: number)
                s.byClient.removeValue(forKey: Self.clientKey(live.projectKey, live.clientID))
                s.persistedExpiry.removeValue(forKey: live.id)
                s.free(live)
                r = live
            } else if let late = s.expired[number], late.id == reservationID {
                r = late
            } else {
                return false
            }
            s.expired.removeValue(forKey: number)
            s.releasedAt[number] = now
            s.forgetVisits(project: r.projectKey, client: r.clientID)
            return true
        }
        if released { persist(.released(reservationID: reservationID, number: number, at: now)) }
    }

    public func attribute(_ number: PhoneNumber) -> Attribution? { attribute(number, at: Date()) }

    /// In memory: always known at once.
    public func attributeNow(_ number: PhoneNumber) -> AttributionAnswer { .now(attribute(number)) }

    public func attributeLater(_ number: PhoneNumber, at now: Date) -> Attribution? { attribute(number, at: now) }

    public func callEnded(_ attribution: Attribution, number: PhoneNumber) {
        guard attribution.kind == .dynamic, let reservation = attribution.reservationID else { return }
        release(reservationID: reservation, number: number)
    }
}
