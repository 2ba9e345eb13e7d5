import CallTrackCore
import Foundation

/// Asks storage what a call needs to know while it is being routed, off libre's thread, and brings the
/// answers back to it: whether the caller is new (`X-CallTrack-First-Time`), and, when several nodes share
/// the pool book, who the tracking number belongs to. A call waits for them at most
/// `patienceMilliseconds`: a slow database never delays a call more than that.
struct CallerLookup: Sendable {
    let history: (any CallerHistory)?
    let attributor: any CallAttributor
    let backOnLoop: @Sendable (@escaping @Sendable (SwitchBoard) -> Void) -> Void
    /// Attributions storage could not give in time, asked again until it can.
    let late: LateAttribution
    static let patienceMilliseconds: UInt64 = 250

    /// What came back: nil where nothing was asked or storage could not tell.
    struct Answer: Sendable {
        var calledBefore: Bool?
        var attribution: Attribution?
        /// Storage failed to say who the number belongs to (not: it belongs to no one).
        var attributionUnknown = false
    }

    /// Whether anything is worth asking: a caller number with a history to look in, or an attribution left
    /// for later.
    func asks(caller: String, attribution: Bool) -> Bool { attribution || (history != nil && !caller.isEmpty) }

    /// Calls `answer` on libre's thread with what storage said.
    func lookUp(
        projectKey: String, caller: String, attributing number: PhoneNumber?,
        answer: @escaping @Sendable (SwitchBoard, Answer) -> Void
    ) {
        let history = history, attributor = attributor, backOnLoop = backOnLoop
        Task {
            async let before: Bool? = {
                guard let history, !caller.isEmpty else { return nil }
                return (try? await history.hasCalledBefore(projectKey: projectKey, caller: caller)) ?? nil
            }()
            async let attribution: Result<Attribution?, any Error> = {
                guard let number else { return .success(nil) }
                do { return .success(try await attributor.attributeLater(number, at: Date())) } catch {
                    return .failure(error)
                }
            }()
            var found = Answer(calledBefore: await before)
            switch await attribution {
            case .success(let a): found.attribution = a
            case .failure: found.attributionUnknown = true
            }
            let said = found
            backOnLoop { board in answer(board, said) }
        }
    }
}
