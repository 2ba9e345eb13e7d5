import Foundation

/// Headless Chromium, one fresh profile per visitor (so each has its own cookies), returning the rendered DOM.
enum Browser {
    static var binary: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Loads `url`, lets scripts and network run, and returns the DOM as HTML.
    static func renderedDOM(_ url: String) throws -> String {
        guard let binary else { throw TestFailure("chromium is not installed (make test installs it)") }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--user-data-dir=\(profile.path)", "--virtual-time-budget=5000", "--dump-dom", url,
        ]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// The text of the element with `id` in rendered HTML.
    static func text(ofID id: String, in html: String) -> String? {
        guard let start = html.range(of: "id=\"\(id)\"") else { return nil }
        guard let open = html[start.upperBound...].firstIndex(of: ">"), let close = html[open...].range(of: "<") else {
            return nil
        }
        return String(html[html.index(after: open)..<close.lowerBound])
    }

    /// The href of the element with `id`.
    static func href(ofID id: String, in html: String) -> String? {
        guard let start = html.range(of: "id=\"\(id)\""),
            let tagStart = html[..<start.lowerBound].range(of: "<", options: .backwards),
            let tagEnd = html[start.upperBound...].firstIndex(of: ">")
        else { return nil }
        let tag = html[tagStart.lowerBound..<tagEnd]
        guard let h = tag.range(of: "href=\"") else { return nil }
        let rest = tag[h.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }
}
