import Foundation

/// A small tmpfs, to make a real full disk or read-only folder (needs root, as in CI).
final class Tmpfs {
    let path: String

    /// Whether this machine lets the tests mount (root in a VM or container that allows it).
    static let available: Bool = {
        guard getuid() == 0, let probe = try? Tmpfs(options: "size=16k") else { return false }
        _ = probe
        return true
    }()

    init(options: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tmpfs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard Self.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path]) == 0 else {
            throw TestFailure("cannot mount tmpfs at \(path)")
        }
    }

    deinit { _ = Self.run(["umount", "-l", path]) }

    private static func run(_ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
