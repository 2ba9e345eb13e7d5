import Foundation

/// A 16-bit PCM stereo WAV file written as the call goes on.
///
/// The header's sizes are rewritten after every append, so a crash leaves a file that plays
/// up to the last append; `repair` fixes one whose process died between the data and the header.
final class WAVFile {
    static let headerSize = 44
    let path: String
    let sampleRate: Int
    private let fd: Int32
    private(set) var dataBytes = 0

    /// Creates the file (and its folder); throws a `RecordingProblem` naming the cause.
    init(path: String, sampleRate: Int) throws {
        self.path = path
        self.sampleRate = sampleRate
        let folder = (path as NSString).deletingLastPathComponent
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw RecordingProblem(
                errno: (error as NSError).code == NSFileWriteVolumeReadOnlyError ? EROFS : Self.errnoOf(error),
                action: "create folder \(folder)")
        }
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw RecordingProblem(errno: errno, action: "create \(path)") }
        do { try write(Self.header(sampleRate: sampleRate, dataBytes: 0), at: 0) } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    private static func errnoOf(_ error: Error) -> Int32 {
        if let posix = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain
        {
            return Int32(posix.code)
        }
        return EIO
    }

    /// Appends interleaved stereo frames and updates the header to cover them.
    func append(_ interleaved: [Int16]) throws {
        guard !interleaved.isEmpty else { return }
        let bytes = interleaved.withUnsafeBytes { raw -> [UInt8] in
            // WAV is little-endian, as is every machine CallTrack runs on; keep the copy explicit anyway.
            var out = [UInt8](repeating: 0, count: raw.count)
            for i in stride(from: 0, to: raw.count, by: 2) {
                let v = raw.load(fromByteOffset: i, as: Int16.self).littleEndian
                out[i] = UInt8(truncatingIfNeeded: v)
                out[i + 1] = UInt8(truncatingIfNeeded: v >> 8)
            }
            return out
        }
        do { try write(bytes, at: Self.headerSize + dataBytes) } catch {
            // A partial write (disk full) would leave bytes the header does not cover: drop them.
            _ = ftruncate(fd, off_t(Self.headerSize + dataBytes))
            throw error
        }
        dataBytes += bytes.count
        try write(Self.sizeFields(dataBytes: dataBytes).riff, at: 4)
        try write(Self.sizeFields(dataBytes: dataBytes).data, at: 40)
    }

    var durationSeconds: Double { Double(dataBytes) / Double(sampleRate * 4) }
    var fileBytes: Int { Self.headerSize + dataBytes }

    private func write(_ bytes: [UInt8], at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RecordingProblem(errno: errno, action: "write \(path)")
            }
            done += n
        }
    }

    static func header(sampleRate: Int, dataBytes: Int) -> [UInt8] {
        var h: [UInt8] = []
        func u32(_ v: Int) { h += withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian, Array.init) }
        func u16(_ v: Int) { h += withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian, Array.init) }
        h += Array("RIFF".utf8)
        u32(36 + dataBytes)
        h += Array("WAVE".utf8)
        h += Array("fmt ".utf8)
        u32(16)
        u16(1)
        u16(2)
        u32(sampleRate)
        u32(sampleRate * 4)
        u16(4)
        u16(16)
        h += Array("data".utf8)
        u32(dataBytes)
        return h
    }

    private static func sizeFields(dataBytes: Int) -> (riff: [UInt8], data: [UInt8]) {
        (
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: 36 + dataBytes).littleEndian, Array.init),
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: dataBytes).littleEndian, Array.init)
        )
    }

    /// Makes a recording cut short by a crash valid: whole frames only, header sizes matching.
    /// Returns (data bytes, sample rate), or nil when the file is missing or not one of ours.
    static func repair(path: String) -> (dataBytes: Int, sampleRate: Int)? {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: headerSize)
        guard pread(fd, &header, headerSize, 0) == headerSize, header[0..<4].elementsEqual("RIFF".utf8),
            header[36..<40].elementsEqual("data".utf8)
        else { return nil }
        let rate = Int(header[24]) | Int(header[25]) << 8 | Int(header[26]) << 16 | Int(header[27]) << 24
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        let data = (max(0, Int(st.st_size) - headerSize) / 4) * 4
        _ = ftruncate(fd, off_t(headerSize + data))
        var fixed = Self.header(sampleRate: rate, dataBytes: data)
        guard pwrite(fd, &fixed, headerSize, 0) == headerSize else { return nil }
        _ = fsync(fd)
        return (data, rate)
    }
}

/// Why a recording could not be written, in words for the call record and the log.
public struct RecordingProblem: Error, CustomStringConvertible, Sendable {
    public let errno: Int32
    public let action: String

    /// The kind of problem, so that the log names it once rather than per call or per packet.
    public var kind: String {
        switch errno {
        case ENOSPC, EDQUOT: "disk_full"
        case EROFS: "read_only"
        case EACCES, EPERM: "permission_denied"
        default: "io_error"
        }
    }

    public var description: String {
        let why: String
        switch errno {
        case ENOSPC, EDQUOT: why = "disk full"
        case EROFS: why = "recordings folder is read-only"
        case EACCES, EPERM: why = "permission denied"
        default: why = String(cString: strerror(errno))
        }
        return "\(why) (\(action))"
    }
}
