import CLibre
import Foundation
import Synchronization

/// libre's event loop on a dedicated thread.
///
/// libre is single-threaded: every libre call must run on this thread. Other threads hand
/// work over with `submit`, which queues a closure and wakes the loop through an mqueue.
final class LibreLoop: Sendable {
    private let jobs = Mutex<[@Sendable () -> Void]>([])
    /// libre's mqueue; only `mqueue_push` touches it off the loop thread, which libre allows.
    private struct QueueHandle: @unchecked Sendable { let pointer: OpaquePointer }
    private let queue = Mutex<QueueHandle?>(nil)
    private let finished = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let exited = Atomic<Bool>(false)

    /// Starts the thread; `setUp` runs on it after `libre_init` and before `re_main`.
    /// Throws what `setUp` throws (a port that cannot be bound, say).
    func start(maxFileDescriptors: Int32, setUp: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (started: CheckedContinuation<Void, Error>) in
            let thread = Thread { [self] in
                self.threadBody(maxFileDescriptors: maxFileDescriptors, setUp: setUp, started: started)
            }
            thread.name = "libre"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    private func threadBody(maxFileDescriptors: Int32, setUp: () throws -> Void,
                            started: CheckedContinuation<Void, Error>) {
        var err = libre_init()
        // libre indexes handlers by fd number: size the table before the first socket.
        if err == 0 { err = fd_setsize(maxFileDescriptors) }
        var mq: OpaquePointer?
        if err == 0 {
            err = mqueue_alloc(&mq, { _, _, arg in
                guard let arg else { return }
                Unmanaged<LibreLoop>.fromOpaque(arg).takeUnretainedValue().runJobs()
            }, Unmanaged.passUnretained(self).toOpaque())
        }
        if err != 0 {
            started.resume(throwing: TelephonyError.libre("libre initialisation", err))
            return
        }
        queue.withLock { $0 = mq.map(QueueHandle.init) }
        do {
            try setUp()
        } catch {
            started.resume(throwing: error)
            queue.withLock { $0 = nil }
            _ = mem_deref(UnsafeMutableRawPointer(mq))
            libre_close()
            finishThread()
            return
        }
        started.resume()
        _ = re_main(nil)
        runJobs()
        queue.withLock { $0 = nil }
        _ = mem_deref(UnsafeMutableRawPointer(mq))
        finishThread()
    }

    private func finishThread() {
        exited.store(true, ordering: .sequentiallyConsistent)
        let c = finished.withLock { c in defer { c = nil }; return c }
        c?.resume()
    }

    private func runJobs() {
        let pending = jobs.withLock { list in defer { list.removeAll() }; return list }
        for job in pending { job() }
    }

    /// Runs `job` on libre's thread soon; dropped if the loop has stopped.
    func submit(_ job: @escaping @Sendable () -> Void) {
        jobs.withLock { $0.append(job) }
        queue.withLock { mq in
            if let mq { _ = mqueue_push(mq.pointer, 0, nil) }
        }
    }

    /// Stops `re_main` and waits for the thread to finish.
    func stop() async {
        if exited.load(ordering: .sequentiallyConsistent) { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            finished.withLock { $0 = c }
            if exited.load(ordering: .sequentiallyConsistent) {
                let c = finished.withLock { c in defer { c = nil }; return c }
                c?.resume()
                return
            }
            submit { re_cancel() }
        }
    }
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
