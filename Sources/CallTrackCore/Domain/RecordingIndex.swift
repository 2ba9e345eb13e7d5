import Foundation

/// Where the retention sweeper finds old recordings and marks them deleted.
public protocol RecordingIndex: Sendable {
    /// Recording files (relative paths) of calls that ended before `date`, oldest first.
    func recordings(endedBefore date: Date, limit: Int) async throws -> [(CallID, String)]
    func markRecordingDeleted(_ id: CallID, reason: String) async throws
}
