import CLibre
import Foundation
import Synchronization

/// A libre event loop on a dedicated thread, and the one object that lives there.
///
/// libre runs one loop per thread: every libre object, and `Owner` (the switchboard, which owns
/// the calls and legs; or a relay worker, which owns its calls' media sockets), is touched only on
/// its loop's thread. The first loop (`main`) initialises libre; the others (`re_thread_init`) get
/// their own file descriptor table, timers and queue. `start` builds the owner there;
/// other threads reach it only through `submit`, whose closure the loop hands the owner, so no
/// other thread ever holds it. Code entered from libre's C callbacks checks that it runs on its own
/// object's loop (`LoopIdentity`).
final class LibreLoop<Owner: AnyObject>: Sendable {
    private let jobs = Mutex<[@Sendable (Owner) -> Void]>([])
    /// libre's mqueue; only `mqueue_push` touches it off the loop thread, which libre allows.
    private struct QueueHandle: @unchecked Sendable { let pointer: OpaquePointer }
    private let queue = Mutex<QueueHandle?>(nil)
    private let finished = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let exited = Atomic<Bool>(false)
    /// Written and read on the loop thread only (after `start` builds it, before the thread ends).
    private nonisolated(unsafe) var owner: Owner?
    let name: String
    private let main: Bool

    init(name: String = "libre", main: Bool = true) {
        self.name = name
        self.main = main
    }

    /// Starts the thread; `make` runs on it after `libre_init` and before `re_main`, and builds the
    /// owner. Throws what `make` throws (a port that cannot be bound, say).
    func start(maxFileDescriptors: Int32, make: @escaping @Sendable () throws -> Owner) async throws {
        try await withCheckedThrowingContinuation { (started: CheckedContinuation<Void, Error>) in
            let thread = Thread { [self] in
                self.threadBody(maxFileDescriptors: maxFileDescriptors, make: make, started: started)
            }
            thread.name = name
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    private func threadBody(
        maxFileDescriptors: Int32, make: () throws -> Owner, started: CheckedContinuation<Void, Error>
    ) {
        // Named where `top -H` and /proc show it (Foundation's Thread.name does not reach the OS on Linux).
        ct_set_thread_name(String(name.prefix(15)))
        ct_set_current_loop(Unmanaged.passUnretained(self).toOpaque())
        var err = main ? libre_init() : re_thread_init()
        // libre indexes handlers by fd number: size the table before the first socket.
        if err == 0 { err = fd_setsize(maxFileDescriptors) }
        var mq: OpaquePointer?
        let wakeup = Wakeup { [unowned self] in self.runJobs() }
        defer { withExtendedLifetime(wakeup) {} }
        if err == 0 {
            err = mqueue_alloc(
                &mq,
                { _, _, arg in
                    guard let arg else { return }
                    Unmanaged<Wakeup>.fromOpaque(arg).takeUnretainedValue().run()
                }, Unmanaged.passUnretained(wakeup).toOpaque())
        }
        if err != 0 {
            started.resume(throwing: TelephonyError.libre("libre initialisation", err))
            return
        }
        queue.withLock { $0 = mq.map(QueueHandle.init) }
        do { owner = try make() } catch {
            started.resume(throwing: error)
            queue.withLock { $0 = nil }
            _ = mem_deref(UnsafeMutableRawPointer(mq))
            if main { libre_close() }
            finishThread()
            return
        }
        started.resume()
        _ = re_main(nil)
        runJobs()
        owner = nil
        queue.withLock { $0 = nil }
        _ = mem_deref(UnsafeMutableRawPointer(mq))
        finishThread()
    }

    private func finishThread() {
        if !main { re_thread_close() }
        ct_set_current_loop(nil)
        exited.store(true, ordering: .sequentiallyConsistent)
        let c = finished.withLock { c in
            defer { c = nil }
            return c
        }
        c?.resume()
    }

    private func runJobs() {
        let pending = jobs.withLock { list in
            defer { list.removeAll() }
            return list
        }
        guard let owner else { return }
        for job in pending { job(owner) }
    }

    /// Runs `job` with the owner on libre's thread soon; dropped if the loop has stopped.
    func submit(_ job: @escaping @Sendable (Owner) -> Void) {
        jobs.withLock { $0.append(job) }
        queue.withLock { mq in if let mq { _ = mqueue_push(mq.pointer, 0, nil) } }
    }

    /// Stops `re_main` and waits for the thread to finish.
    func stop() async {
        if exited.load(ordering: .sequentiallyConsistent) { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            finished.withLock { $0 = c }
            if exited.load(ordering: .sequentiallyConsistent) {
                let c = finished.withLock { c in
                    defer { c = nil }
                    return c
                }
                c?.resume()
                return
            }
            submit { _ in re_cancel() }
        }
    }
}

/// Which libre loop an object lives on. The object takes the identity of the loop it is made on and
/// checks it at every entry from C (as swift-nio's `NIOLoopBound` checks its event loop): with a SIP
/// loop and several relay loops, "on some libre thread" is not enough, and a libre object touched
/// from another thread corrupts libre's state silently, so this stops the process instead.
struct LoopIdentity: Equatable, @unchecked Sendable {
    /// The `LibreLoop` running the thread (set by its thread for its whole life).
    private let loop: UnsafeMutableRawPointer

    /// The loop of the calling thread; stops the process off every libre loop.
    static func current(file: StaticString = #fileID, line: UInt = #line) -> LoopIdentity {
        guard let loop = ct_current_loop() else {
            preconditionFailure("libre object made off libre's threads", file: file, line: line)
        }
        return LoopIdentity(loop: loop)
    }

    /// Stops the process unless the calling thread runs this loop.
    func precondition(file: StaticString = #fileID, line: UInt = #line) {
        Swift.precondition(
            ct_current_loop() == loop, "libre object used off its own loop's thread", file: file, line: line)
    }
}

/// The mqueue's context: a C callback cannot name a generic type, so it calls this instead.
private final class Wakeup {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// Failures of the SIP engine, with libre's error code where there is one.
public enum TelephonyError: Error, CustomStringConvertible {
    case libre(String, Int32)
    case bind(String, Int32)

    public var description: String {
        switch self {
        case .libre(let what, let err): "\(what) failed: \(String(cString: strerror(err)))"
        case .bind(let what, let err): "cannot listen on \(what): \(String(cString: strerror(err)))"
        }
    }
}
