import Foundation
import TestSupport

/// A real HAProxy running the shipped `deploy/haproxy/calltrack.cfg`, listening on 127.0.0.1:`port` and
/// sending to `nodes` (HTTP ports on 127.0.0.1) from 127.0.0.5, the address the nodes trust as their proxy.
final class HAProxy {
    private let daemon: Daemon
    private let logPath: String
    let port: Int

    init(port: Int, nodes: [Int]) throws {
        self.port = port
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("haproxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
                "deploy/haproxy/calltrack.cfg")
        var lines = try String(contentsOf: shipped, encoding: .utf8).components(separatedBy: "\n").filter {
            !$0.trimmingCharacters(in: .whitespaces).hasPrefix("server ")
        }
        lines = lines.map {
            switch $0.trimmingCharacters(in: .whitespaces).split(separator: " ").first {
            case "bind": "    bind 127.0.0.1:\(port)"
            case "maxconn": "    maxconn 1000"
            default: $0
            }
        }
        lines += ["    source 127.0.0.5"] + nodes.enumerated().map { "    server node-\($0) 127.0.0.1:\($1) check" }
        let cfgPath = directory.appendingPathComponent("haproxy.cfg").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: cfgPath, atomically: true, encoding: .utf8)
        logPath = directory.appendingPathComponent("haproxy.log").path
        daemon = try Daemon(executable: "/usr/sbin/haproxy", arguments: ["-db", "-f", cfgPath], log: logPath)
    }

    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop() { daemon.stop() }
}
