import CallTrackCore
import Foundation
import Logging
import Tracking

/// Who a call belongs to when several nodes share the pool book: static and offline numbers from the
/// configuration at once; a dynamic number's holder and their visits read from PostgreSQL, off the SIP
/// thread (one indexed read of the number's row, one of the holder's visits).
public struct SharedAttributor: CallAttributor {
    let layout: PoolLayout
    let book: SharedPoolBook
    /// A call this long after its reservation lapsed is still attributed (flagged late).
    let lateGrace: Double
    let logger: Logger

    public init(layout: PoolLayout, book: SharedPoolBook, lateGrace: Double = 1800, logger: Logger) {
        self.layout = layout
        self.book = book
        self.lateGrace = lateGrace
        self.logger = logger
    }

    public func attributeNow(_ number: PhoneNumber) -> AttributionAnswer { layout.attributionFromConfiguration(number) }

    public func attributeLater(_ number: PhoneNumber, at now: Date) async throws -> Attribution? {
        layout.attribution(of: number, holder: try await book.holder(of: number, now: now, grace: lateGrace))
    }

    /// The visitor has called: their number can serve someone else (written off the SIP thread).
    public func callEnded(_ attribution: Attribution, number: PhoneNumber) {
        guard attribution.kind == .dynamic, let reservation = attribution.reservationID else { return }
        let book = book, logger = logger
        Task {
            do { try await book.release(reservationID: reservation, number: number, at: Date()) } catch {
                logger.warning(
                    "a called number could not be released; it frees itself when its reservation lapses",
                    metadata: ["number": "\(number)", "error": "\(error)"])
            }
        }
    }
}
