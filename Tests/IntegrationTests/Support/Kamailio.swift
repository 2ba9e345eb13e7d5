import Foundation
import TestSupport

/// A real Kamailio on loopback, listening on `listen` (`udp:IP:PORT`) with `route` as its request_route
/// and the modules it names loaded: the SIP proxy the tests put in front of or behind CallTrack.
final class Kamailio {
    private let daemon: Daemon
    private let logPath: String

    /// Runs the configuration `cfg` as `name` in `directory` (the folder of its other files), logging beside it.
    private init(config cfg: String, named name: String, in directory: URL) throws {
        let cfgPath = directory.appendingPathComponent(name).path
        try cfg.write(toFile: cfgPath, atomically: true, encoding: .utf8)
        logPath = directory.appendingPathComponent("kamailio.log").path
        daemon = try Daemon(
            executable: "/usr/sbin/kamailio", arguments: ["-f", cfgPath, "-DD", "-E", "-w", directory.path],
            log: logPath)
    }

    /// A new folder for one Kamailio's files.
    private static func newDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kamailio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    convenience init(listen: String, modules: [String], route: String) throws {
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
        try self.init(config: cfg, named: "kamailio.cfg", in: try Self.newDirectory())
    }

    /// The shipped `deploy/kamailio/calltrack.cfg` with this site's addresses: listening on `listen`
    /// (`udp:IP:PORT`), sending calls to `nodes` (`IP:PORT`), taking them from `trunks` (CIDRs).
    convenience init(deployedListening listen: String, nodes: [String], trunks: String) throws {
        let directory = try Self.newDirectory()
        let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("deploy/kamailio")
        let list = directory.appendingPathComponent("calltrack-nodes.list").path
        try nodes.enumerated().map { "1 sip:\($1) 0 0 duid=node-\($0)" }.joined(separator: "\n").write(
            toFile: list, atomically: true, encoding: .utf8)
        let local = """
            #!substdef "!CALLTRACK_LISTEN!\(listen)!g"
            #!substdef "!CALLTRACK_NODES!\(list)!g"
            #!substdef "!CALLTRACK_TRUNKS!\(trunks)!g"
            """
        try local.write(to: directory.appendingPathComponent("calltrack-local.cfg"), atomically: true, encoding: .utf8)
        // Two children are plenty here, and the log goes to the test's file.
        let cfg = try String(contentsOf: deploy.appendingPathComponent("calltrack.cfg"), encoding: .utf8)
            .replacingOccurrences(of: "children=4", with: "children=2").replacingOccurrences(
                of: "log_stderror=no", with: "log_stderror=yes")
        try self.init(config: cfg, named: "calltrack.cfg", in: directory)
    }

    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop() { daemon.stop() }
}
