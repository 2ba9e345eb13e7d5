import Foundation
import Testing
import Yams

@Suite("API description") struct OpenAPITests {
    @Test("docs/openapi.yaml parses and describes every route the server has") func everyRouteDescribed() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        let doc = try #require(try Yams.load(yaml: text) as? [String: Any])
        let paths = try #require(doc["paths"] as? [String: Any])
        let routes: [(String, String)] = [
            ("/healthz", "get"), ("/metrics", "get"), ("/v1/calls", "get"), ("/v1/calls/{id}", "get"),
            ("/v1/calls/{id}/recording", "get"), ("/v1/projects/{key}/reservations", "post"),
            ("/v1/projects/{key}/snippet.js", "get"), ("/v1/projects/{key}/health", "get"), ("/demo/{key}", "get"),
            ("/v1/projects/{key}/report", "get"), ("/v1/projects/{key}/leads", "get"), ("/v1/calls/{id}/sale", "post"),
            ("/v1/projects/{key}/sales", "post"), ("/v1/projects/{key}/costs", "put"),
            ("/v1/projects/{key}/pool-plan", "get"), ("/", "get"), ("/calls", "get"), ("/leads", "get"),
            ("/pool", "get"), ("/setup", "get"), ("/setup/costs", "post"), ("/calls/{id}/audio", "get"),
            ("/signin", "get"), ("/signin", "post"), ("/signout", "post"), ("/v1/deliveries", "get"),
            ("/deliveries", "get"), ("/deliveries/retry", "post"), ("/v1/deliveries/{id}/retry", "post"),
            ("/v1/projects/{key}/exports/metrica-calls.csv", "get"),
            ("/v1/projects/{key}/exports/google-ads-conversions.csv", "get"), ("/v1/projects/{key}/amp", "get"),
            ("/v1/cluster", "get"),
        ]
        for (path, method) in routes {
            let item = paths[path] as? [String: Any]
            #expect(item?[method] != nil, "\(method.uppercased()) \(path) is not described")
        }
    }

    @Test("docs/openapi.yaml is a valid OpenAPI 3.1 document (openapi-spec-validator, which make test installs)")
    func validDocument() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let validator = Process()
        validator.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        validator.arguments = [
            "python3", "-m", "openapi_spec_validator", root.appendingPathComponent("docs/openapi.yaml").path,
        ]
        let output = Pipe()
        validator.standardOutput = output
        validator.standardError = output
        try validator.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        validator.waitUntilExit()
        #expect(validator.terminationStatus == 0 && text.contains(": OK"), "\(text.suffix(2000))")
        let doc = try #require(
            try Yams.load(yaml: String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8))
                as? [String: Any])
        #expect(doc["openapi"] as? String == "3.1.0")
        let webhooks = try #require(doc["webhooks"] as? [String: Any])
        #expect(
            Set(webhooks.keys) == [
                "call.started", "call.answered", "call.ended", "call.missed", "recording.ready", "sale.recorded",
            ])
    }
}
