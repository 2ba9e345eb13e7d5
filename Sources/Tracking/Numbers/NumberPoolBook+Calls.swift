import CallTrackCore
import Foundation

/// The pools' side of a call: who a tracking number belongs to when its INVITE arrives, and the
/// number going back to the pool once the visitor has called (telephony sees only `CallAttributor`).
extension NumberPoolBook: CallAttributor {
    /// Who a call to `number` belongs to, at the moment its INVITE arrives. Nil for a number no pool knows.
    public func attribute(_ number: PhoneNumber, at now: Date = Date()) -> Attribution? {
        guard let entry = plan[number] else { return nil }
        let projectKey = entry.projectKey
        switch entry.role {
        case .offline(let channel):
            return Attribution(kind: .offline, source: "offline", medium: channel, channel: channel)
        case .staticNumber(let pool): return .unattributed(.static, pool: pool)
        case .dynamic(let pool):
            guard let project = projects[projectKey] else { return nil }
            var changes: [TrackingChange] = []
            let result: Attribution = state.withLock { s in
                expire(&s, now: now, changes: &changes)
                var late = false
                guard
                    let r = s.byNumber[number]
                        ?? {
                            late = true
                            return s.expired[number]
                        }()
                else { return .unattributed(.dynamic, pool: pool) }
                let history = (s.visits[Self.clientKey(projectKey, r.clientID)] ?? []).filter { $0.at <= now }
                return Attribution(
                    poolName: pool, reservation: r, late: late, visit: project.model.pick(from: history),
                    history: history)
            }
            changes.forEach(persist)
            return result
        }
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

    public func callEnded(_ attribution: Attribution, number: PhoneNumber) {
        guard attribution.kind == .dynamic, let reservation = attribution.reservationID else { return }
        release(reservationID: reservation, number: number)
    }
}
