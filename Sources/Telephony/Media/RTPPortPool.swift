/// Hands out even RTP ports (RTCP is the next odd one) from the configured range.
///
/// Released ports go to the back of the queue, so a port is reused as late as possible
/// and stray packets of an ended call do not reach the next one.
final class RTPPortPool {
    private var free: [UInt16]
    private var head = 0

    init(min: Int, max: Int) {
        let first = min % 2 == 0 ? min : min + 1
        free = stride(from: first, to: max, by: 2).map { UInt16($0) }
    }

    var available: Int { free.count - head }

    func take() -> UInt16? {
        guard head < free.count else { return nil }
        let port = free[head]
        head += 1
        if head > 4096 && head * 2 > free.count {
            free.removeFirst(head)
            head = 0
        }
        return port
    }

    func release(_ port: UInt16) { free.append(port) }
}
