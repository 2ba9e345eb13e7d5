import CallTrackCore
import Foundation
import Logging
import Synchronization

/// Calls whose tracking number's holder storage could not name in time (the shared PostgreSQL down or
/// slow): the call went on unattributed, and its attribution is asked again every few seconds until
/// storage answers, then added to the call's record (`.attributed`) and the number released. Bounded: past
/// `capacity` waiting calls, the oldest stay unattributed.
final class LateAttribution: Sendable {
    struct Waiting: Sendable {
        let callID: CallID
        let number: PhoneNumber
        let at: Date
    }

    private let attributor: any CallAttributor
    private let events: CallEventBus
    private let logger: Logger
    private let waiting = Mutex<(calls: [Waiting], asking: Bool)>(([], false))
    static let capacity = 10_000
    static let interval: Duration = .seconds(2)

    init(attributor: any CallAttributor, events: CallEventBus, logger: Logger) {
        self.attributor = attributor
        self.events = events
        self.logger = logger
    }

    /// Storage could not say who called `number` at `at`: ask again until it can.
    func retry(_ call: Waiting) {
        let start = waiting.withLock { w -> Bool in
            if w.calls.count >= Self.capacity {
                w.calls.removeFirst()
                logger.warning("a call waiting for its attribution was given up: too many wait")
            }
            w.calls.append(call)
            defer { w.asking = true }
            return !w.asking
        }
        if start { Task { await askUntilSettled() } }
    }

    /// What storage said for a call, after it had gone on: recorded, and the visitor's number released.
    func settled(_ call: Waiting, _ attribution: Attribution?) {
        guard let attribution else { return }
        events.publish(.attributed(callID: call.callID, attribution: attribution))
        attributor.callEnded(attribution, number: call.number)
    }

    private func askUntilSettled() async {
        while true {
            try? await Task.sleep(for: Self.interval)
            let calls = waiting.withLock { $0.calls }
            var unsettled: Set<CallID> = []
            for call in calls {
                do { settled(call, try await attributor.attributeLater(call.number, at: call.at)) } catch {
                    unsettled.insert(call.callID)
                }
            }
            let done = waiting.withLock { w -> Bool in
                let asked = Set(calls.map(\.callID))
                w.calls.removeAll { asked.contains($0.callID) && !unsettled.contains($0.callID) }
                if w.calls.isEmpty { w.asking = false }
                return w.calls.isEmpty
            }
            if done { return }
        }
    }
}
