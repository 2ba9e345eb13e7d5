import CallTrackCore
import Foundation
import Logging
import Synchronization

/// A write-ahead file of the changes the database may not hold yet (call events, reservations).
///
/// The producer appends each change here (one `write(2)`, a line of JSON) before the batch writer
/// sees it, so a call has its start on file before its forwarded INVITE leaves and a reservation before
/// the visitor gets its number. The writer commits a batch with the number of its last change
/// (`JournalPosition`); at the next start the changes after that number are read back and applied.
/// What a process has written to a file survives its death (`kill -9`, a crash): the kernel holds it.
/// A power loss can take the last seconds of both this file and the database's WAL (neither is
/// synced per change): docs/reliability.md says what survives what.
///
/// Files roll over at `segmentBytes`; a file whose changes are all in the database is removed.
public final class Journal<Entry: Codable & Sendable>: WriteAheadLog {
    /// What the last run left: the changes to apply, in order.
    public struct Leftover: Sendable {
        public var entries: [Numbered<Entry>]
        /// Lines that could not be read (torn by a power loss or a full disk).
        public var unreadable: Int
    }

    private struct Segment {
        let path: String
        var last: UInt64
    }

    private struct State {
        var fd: Int32 = -1
        var current: Segment?
        var bytes = 0
        var full: [Segment] = []
        /// A write failed part-way: the next line starts on a fresh line.
        var torn = false
        var failing = false
        let encoder = JSONEncoder()
    }

    public let directory: String
    /// What the last run left; apply it (then call `applied(through:)`) before taking new changes.
    public let leftover: Leftover
    /// The number the next change takes: after every number the journal or the database has seen.
    public let nextNumber: UInt64
    private let segmentBytes: Int
    private let state = Mutex(State())
    private let logger: Logger

    /// Opens the journal in `directory` (made if missing) and reads back what the last run left after
    /// change `applied` (the database's `JournalPosition`).
    public init(directory: String, applied: UInt64, segmentBytes: Int = 1 << 20, logger: Logger) throws {
        self.directory = directory
        self.segmentBytes = segmentBytes
        self.logger = logger
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var leftover = Leftover(entries: [], unreadable: 0)
        var highest = applied
        var segments: [Segment] = []
        let decoder = JSONDecoder()
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }
        for name in names.sorted() {
            let path = directory + "/" + name
            let data = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
            var last: UInt64 = 0
            for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
                guard let entry = try? decoder.decode(Numbered<Entry>.self, from: line) else {
                    leftover.unreadable += 1
                    continue
                }
                last = max(last, entry.number)
                if entry.number > applied { leftover.entries.append(entry) }
            }
            highest = max(highest, last)
            segments.append(Segment(path: path, last: last))
        }
        leftover.entries.sort { $0.number < $1.number }
        self.leftover = leftover
        nextNumber = highest + 1
        state.withLock { $0.full = segments }
        self.applied(through: applied)
    }

    public func append(_ entry: Numbered<Entry>) {
        state.withLock { state in
            guard var line = try? state.encoder.encode(entry) else { return }
            line.append(UInt8(ascii: "\n"))
            if state.torn { line.insert(UInt8(ascii: "\n"), at: 0) }
            // A full file rolls over; a file that could not be opened is tried again with the next change.
            if state.fd < 0 || state.bytes >= segmentBytes { roll(&state, first: entry.number) }
            guard state.fd >= 0 else { return }
            let written = line.withUnsafeBytes { write(state.fd, $0.baseAddress, $0.count) }
            state.current?.last = entry.number
            if written == line.count {
                state.bytes += written
                state.torn = false
                if state.failing {
                    state.failing = false
                    logger.notice("the journal is written again", metadata: ["directory": "\(directory)"])
                }
            } else {
                state.torn = true
                if written > 0 { state.bytes += written }
                failed(&state, "cannot write the journal")
            }
        }
    }

    /// The database holds every change up to `number`: files with nothing newer go.
    public func applied(through number: UInt64) {
        let gone = state.withLock { state in
            let done = state.full.filter { $0.last <= number }
            state.full.removeAll { $0.last <= number }
            return done
        }
        for segment in gone { unlink(segment.path) }
    }

    private func roll(_ state: inout State, first: UInt64) {
        if state.fd >= 0 {
            close(state.fd)
            if let current = state.current { state.full.append(current) }
        }
        let path = directory + "/" + String(format: "%020llu.log", first)
        state.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        state.current = Segment(path: path, last: first)
        state.bytes = 0
        if state.fd < 0 { failed(&state, "cannot open the journal") }
    }

    private func failed(_ state: inout State, _ message: String) {
        guard !state.failing else { return }
        state.failing = true
        logger.error(
            "\(message): a crash now could lose changes not yet in the database",
            metadata: ["directory": "\(directory)", "error": "\(String(cString: strerror(errno)))"])
    }

    deinit { state.withLock { if $0.fd >= 0 { close($0.fd) } } }
}
