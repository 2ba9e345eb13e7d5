import CallTrackCore
import Dispatch

/// Asks storage whether a caller is new while their call is being routed, on a queue of its own,
/// and brings the answer back to libre's thread. A call waits for it at most `patienceMilliseconds`:
/// a slow database never delays a call more than that.
struct CallerLookup: Sendable {
    let history: any CallerHistory
    let backOnLoop: @Sendable (@escaping @Sendable (SwitchBoard) -> Void) -> Void
    static let patienceMilliseconds: UInt64 = 250
    private let queue = DispatchQueue(label: "calltrack.caller-history")

    init(
        history: any CallerHistory, backOnLoop: @escaping @Sendable (@escaping @Sendable (SwitchBoard) -> Void) -> Void
    ) {
        self.history = history
        self.backOnLoop = backOnLoop
    }

    /// Calls `answer` on libre's thread with true (called before), false (new) or nil (unknown).
    func firstCall(projectKey: String, caller: String, answer: @escaping @Sendable (SwitchBoard, Bool?) -> Void) {
        let history = history, backOnLoop = backOnLoop
        queue.async {
            let before = (try? history.hasCalledBefore(projectKey: projectKey, caller: caller)) ?? nil
            backOnLoop { board in answer(board, before) }
        }
    }
}
