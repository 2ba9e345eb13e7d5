import Foundation
import TestSupport

/// A real Kamailio on loopback, listening on `listen` (`udp:IP:PORT`) with `route` as its request_route
/// and the modules it names loaded: the SIP proxy the tests put in front of or behind CallTrack.
final class Kamailio {
    private let daemon: Daemon
    private let logPath: String

    init(listen: String, modules: [String], route: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kamailio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let cfg = """
            #!KAMAILIO
            debug=1
            log_stderror=yes
            fork=yes
            children=1
            auto_aliases=no
            listen=\(listen)
            mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
            \(modules.map { "loadmodule \"\($0).so\"" }.joined(separator: "\n"))
            request_route {
            \(route)
            }
            """
        let cfgPath = directory.appendingPathComponent("kamailio.cfg").path
        try cfg.write(toFile: cfgPath, atomically: true, encoding: .utf8)
        logPath = directory.appendingPathComponent("kamailio.log").path
        daemon = try Daemon(
            executable: "/usr/sbin/kamailio", arguments: ["-f", cfgPath, "-DD", "-E", "-w", directory.path],
            log: logPath)
    }

    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop() { daemon.stop() }
}
