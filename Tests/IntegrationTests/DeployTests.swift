import Foundation
import Testing

/// `make install`'s script staged under a folder, and the systemd unit it installs.
@Suite("Deploying") struct DeployTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func stage(config: String? = nil) throws -> URL {
        let dest = FileManager.default.temporaryDirectory.appendingPathComponent("stage-\(UUID().uuidString)")
        if let config {
            try FileManager.default.createDirectory(
                at: dest.appendingPathComponent("etc/calltrack"), withIntermediateDirectories: true)
            try config.write(
                to: dest.appendingPathComponent("etc/calltrack/calltrack.yaml"), atomically: true, encoding: .utf8)
        }
        let (status, output) = try runCommand(
            [root.appendingPathComponent("deploy/install.sh").path, CallTrackServer.binary],
            environment: ["DESTDIR": dest.path, "PREFIX": "/usr/local"])
        guard status == 0 else { throw TestFailure("install.sh failed: \(output)") }
        return dest
    }

    @Test(
        "The staged install has the binary, the config, a secrets file only its owner reads, and a unit systemd-analyze verify accepts"
    ) func install() throws {
        let dest = try Self.stage()
        let fm = FileManager.default
        #expect(fm.isExecutableFile(atPath: dest.path + "/usr/local/bin/calltrack"))
        #expect(fm.fileExists(atPath: dest.path + "/etc/calltrack/calltrack.yaml"))
        let env = dest.path + "/etc/calltrack/calltrack.env"
        let mode = (try fm.attributesOfItem(atPath: env)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        let secrets = try String(contentsOfFile: env, encoding: .utf8)
        #expect(
            secrets.range(of: "^CALLTRACK_ADMIN_TOKENS=[0-9a-f]{32}\n$", options: .regularExpression) != nil,
            "\(secrets)")
        // SIP on 5060 and HTTP on 8080: no capability.
        #expect(!fm.fileExists(atPath: dest.path + "/etc/systemd/system/calltrack.service.d/low-ports.conf"))

        // systemd checks the unit (its ExecStart pointed at the staged binary, which it must find).
        let unit = try String(contentsOfFile: dest.path + "/etc/systemd/system/calltrack.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/calltrack serve --config /etc/calltrack/calltrack.yaml"))
        #expect(
            unit.contains("LimitNOFILE=32768") && unit.contains("ReadWritePaths=/var/lib/calltrack")
                && unit.contains("Restart=on-failure"))
        let check = dest.appendingPathComponent("calltrack.service")
        try unit.replacingOccurrences(of: "/usr/local/bin/calltrack", with: dest.path + "/usr/local/bin/calltrack")
            .write(to: check, atomically: true, encoding: .utf8)
        let (status, output) = try runCommand(["systemd-analyze", "verify", check.path])
        #expect(status == 0 && output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(output)")
        // And it would notice a mistake.
        try unit.replacingOccurrences(of: "/usr/local/bin/calltrack", with: dest.path + "/usr/local/bin/calltrack")
            .replacingOccurrences(of: "LimitNOFILE=32768", with: "LimitNOFILE=lots").write(
                to: check, atomically: true, encoding: .utf8)
        let (_, complaint) = try runCommand(["systemd-analyze", "verify", check.path])
        #expect(complaint.contains("LimitNOFILE") || complaint.contains("lots"), "\(complaint)")
    }

    @Test("A config that listens below port 1024 gets the one capability it needs; an existing config is kept")
    func lowPort() throws {
        let original = try String(
            contentsOf: Self.root.appendingPathComponent("config/calltrack.yaml"), encoding: .utf8)
        let config = original.replacingOccurrences(of: "listen: 127.0.0.1:8080", with: "listen: 127.0.0.1:443")
        #expect(config != original)
        let dest = try Self.stage(config: config)
        #expect(try String(contentsOfFile: dest.path + "/etc/calltrack/calltrack.yaml", encoding: .utf8) == config)
        let dropin = try String(
            contentsOfFile: dest.path + "/etc/systemd/system/calltrack.service.d/low-ports.conf", encoding: .utf8)
        #expect(dropin.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE"))
        // IPv6 loopback on high ports needs nothing, for all the colons in "[::1]".
        let v6 = original.replacingOccurrences(of: "listen: 127.0.0.1:8080", with: "listen: \"[::1]:8080\"")
            .replacingOccurrences(of: "udp:127.0.0.1:5060", with: "udp:[::1]:5060")
        #expect(v6 != original)
        let v6dest = try Self.stage(config: v6)
        #expect(
            !FileManager.default.fileExists(
                atPath: v6dest.path + "/etc/systemd/system/calltrack.service.d/low-ports.conf"))
    }
}
