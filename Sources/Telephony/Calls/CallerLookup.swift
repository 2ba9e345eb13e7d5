import CallTrackCore

/// Asks storage whether a caller is new while their call is being routed, off libre's thread, and
/// brings the answer back to it. A call waits for it at most `patienceMilliseconds`:
/// a slow database never delays a call more than that.
struct CallerLookup: Sendable {
    let history: any CallerHistory
    let backOnLoop: @Sendable (@escaping @Sendable (SwitchBoard) -> Void) -> Void
    static let patienceMilliseconds: UInt64 = 250

    init(
        history: any CallerHistory, backOnLoop: @escaping @Sendable (@escaping @Sendable (SwitchBoard) -> Void) -> Void
    ) {
        self.history = history
        self.backOnLoop = backOnLoop
    }

    /// Calls `answer` on libre's thread with true (called before), false (new) or nil (unknown).
    func firstCall(projectKey: String, caller: String, answer: @escaping @Sendable (SwitchBoard, Bool?) -> Void) {
        let history = history, backOnLoop = backOnLoop
        Task {
            let before = (try? await history.hasCalledBefore(projectKey: projectKey, caller: caller)) ?? nil
            backOnLoop { board in answer(board, before) }
        }
    }
}
