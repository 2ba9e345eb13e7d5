import Foundation

/// Reads the UDP payloads (RTP packets) of a classic pcap file, as sipp plays them.
enum Pcap {
    static func udpPayloads(path: String) throws -> [[UInt8]] {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard data.count >= 24 else { throw TestFailure("short pcap") }
        let magic = data[0..<4]
        let littleEndian =
            magic.elementsEqual([0xd4, 0xc3, 0xb2, 0xa1]) || magic.elementsEqual([0x4d, 0x3c, 0xb2, 0xa1])
        func u32(_ at: Int) -> Int {
            let b = data[at..<at + 4].map(Int.init)
            return littleEndian
                ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24
        }
        let linkType = u32(20)
        var out: [[UInt8]] = []
        var offset = 24
        while offset + 16 <= data.count {
            let captured = u32(offset + 8)
            let start = offset + 16
            offset = start + captured
            guard offset <= data.count else { break }
            var ip = start
            if linkType == 1 {  // Ethernet
                ip += 14
            } else if linkType == 113 {  // Linux cooked
                ip += 16
            }
            guard ip < offset, data[ip] >> 4 == 4 else { continue }
            let ihl = Int(data[ip] & 0x0f) * 4
            guard data[ip + 9] == 17 else { continue }  // UDP
            let udp = ip + ihl
            let payload = udp + 8
            guard payload <= offset else { continue }
            out.append(Array(data[payload..<offset]))
        }
        return out
    }
}
