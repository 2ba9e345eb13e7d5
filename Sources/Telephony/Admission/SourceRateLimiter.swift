/// Requests per second per source address, in a table of fixed size (like Kamailio's pike).
///
/// Spoofed floods come from ever new addresses, so the table never grows: an address hashes to
/// one of `slots` counters that restart each second. Two addresses sharing a slot share a limit,
/// which only ever errs toward refusing a stranger sooner.
struct SourceRateLimiter {
    private struct Slot {
        var second: UInt64 = 0
        var count: UInt32 = 0
    }
    private var slots: [Slot]
    let perSecond: Int

    init(perSecond: Int, slots: Int = 16384) {
        self.perSecond = perSecond
        self.slots = Array(repeating: Slot(), count: max(1, slots))
    }

    /// Counts one request from `address` (raw bytes; an IPv6 /64) at `nowMilliseconds`; false once the source is over
    /// its rate.
    mutating func allow<Bytes: Collection<UInt8>>(_ address: Bytes, nowMilliseconds: UInt64) -> Bool {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in address { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let i = Int(hash % UInt64(slots.count))
        let second = nowMilliseconds / 1000
        if slots[i].second != second { slots[i] = Slot(second: second, count: 0) }
        guard slots[i].count < UInt32(clamping: perSecond) else { return false }
        slots[i].count += 1
        return true
    }
}
