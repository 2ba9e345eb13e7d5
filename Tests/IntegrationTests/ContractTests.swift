import Foundation
import TestSupport
import Testing

/// docs/openapi.yaml against the real server: every JSON response the document describes (each
/// path, method and status) is produced by a request here, and each real body must fit its schema,
/// with no field the document does not name. The schemas are checked by jsonschema (the JSON Schema
/// 2020-12 that OpenAPI 3.1 uses), from PyPI with openapi-spec-validator.
@Suite("The API document against real responses", .serialized) struct ContractTests {
    /// One request and what came back, with the documented path it exercises.
    struct Sample { let method: String, template: String, status: Int, body: String }

    /// A request over a fresh connection, nothing done for us (no redirects followed, no cookies kept).
    static func raw(
        _ server: CallTrackServer, _ method: String, _ path: String, headers: [String] = [], body: Data = Data()
    ) throws -> (status: Int, headers: [String: String], body: String) {
        let http = try RawHTTP(port: server.ports.http)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(server.ports.http)\r\nConnection: close\r\n"
        for h in headers { head += h + "\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        http.send(Array(head.utf8) + Array(body))
        let text = http.readUntilClosed(timeout: .seconds(10)).data
        let parts = text.components(separatedBy: "\r\n\r\n")
        let lines = (parts.first ?? "").components(separatedBy: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased(), default: ""] += line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        return (status, fields, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// Signs in to the dashboard as a browser would: the session cookie and the page's CSRF token.
    static func signIn(_ server: CallTrackServer) throws -> (cookie: String, csrf: String) {
        let form = try raw(server, "GET", "/signin")
        let signin = try #require(form.headers["set-cookie"]?.split(separator: ";").first.map(String.init))
        let token = String(signin.dropFirst("ct_signin=".count))
        let posted = try raw(
            server, "POST", "/signin",
            headers: ["Cookie: \(signin)", "Content-Type: application/x-www-form-urlencoded"],
            body: Data("token=\(CallTrackServer.adminToken)&csrf=\(token)&next=%2Fdeliveries".utf8))
        #expect(posted.status == 303, "\(posted)")
        let session = try #require(
            posted.headers["set-cookie"]?.split(separator: ";").first.map(String.init), "\(posted.headers)")
        let page = try raw(server, "GET", "/deliveries", headers: ["Cookie: \(session)"])
        let csrf = try #require(
            page.body.firstMatch(of: /name="csrf" value="([^"]+)"/)?.output.1, "\(page.body.prefix(500))")
        return (session, String(csrf))
    }

    @Test("Every JSON response in docs/openapi.yaml is produced by a real request and fits its schema")
    func everyDocumentedResponse() async throws {
        var options = WebhookTests.options(receiverPort: 9)
        options.reservationsPerMinute = 30
        var samples = try await Self.clusterSamples()
        try await withServer(options: options) { server in
            let bearer = "Authorization: Bearer \(CallTrackServer.adminToken)"
            let json = "Content-Type: application/json"
            func check(
                _ method: String, _ template: String, _ path: String, _ expected: Int, auth: Bool = true,
                headers: [String] = [], body: String = ""
            ) throws -> String {
                let got = try Self.raw(
                    server, method, path, headers: (auth ? [bearer] : []) + headers, body: Data(body.utf8))
                #expect(got.status == expected, "\(method) \(path): \(got.status) \(got.body.prefix(300))")
                samples.append(Sample(method: method, template: template, status: got.status, body: got.body))
                return got.body
            }
            let reservation =
                #"{"client_id": "visitor-1", "page": "http://shop.test/?utm_source=google&utm_medium=cpc"}"#
            let reserve = "/v1/projects/{key}/reservations"
            _ = try check("GET", "/healthz", "/healthz", 200, auth: false)
            _ = try check("GET", "/v1/cluster", "/v1/cluster", 404)
            _ = try check("GET", "/v1/cluster", "/v1/cluster", 401, auth: false)
            _ = try check(
                "POST", reserve, "/v1/projects/shop/reservations", 200, auth: false, headers: [json], body: reservation)
            _ = try check(
                "POST", reserve, "/v1/projects/shop/reservations", 400, auth: false, headers: [json], body: "{")
            _ = try check(
                "POST", reserve, "/v1/projects/shop/reservations", 403, auth: false,
                headers: [json, "Origin: http://elsewhere.test"], body: reservation)
            _ = try check(
                "POST", reserve, "/v1/projects/nope/reservations", 404, auth: false, headers: [json], body: reservation)
            _ = try check(
                "POST", reserve, "/v1/projects/shop/reservations", 413, auth: false, headers: [json],
                body: #"{"client_id": "v", "page": "http://shop.test/?q="# + String(repeating: "a", count: 17_000)
                    + #""}"#)
            _ = try check("GET", "/v1/projects/{key}/snippet.js", "/v1/projects/nope/snippet.js", 404, auth: false)
            let amp = "/v1/projects/{key}/amp"
            _ = try check(
                "GET", amp, "/v1/projects/shop/amp?__amp_source_origin=http%3A%2F%2Fshop.test&client_id=amp-1", 200,
                auth: false)
            _ = try check(
                "GET", amp, "/v1/projects/shop/amp?__amp_source_origin=http%3A%2F%2Fshop.test", 400, auth: false)
            _ = try check(
                "GET", amp, "/v1/projects/nope/amp?__amp_source_origin=http%3A%2F%2Fshop.test&client_id=amp-1", 404,
                auth: false)

            // A call to hang the call routes on, a recorded one.
            try await server.placeAnsweredCall(dialling: "84990000001", talkMilliseconds: 800)
            _ = try await server.finishedRecordings(count: 1)
            let call = try #require(try await server.calls().first)
            let id = try #require(call["id"] as? String)
            let caller = try #require(call["caller"] as? String)
            let unknownCall = "0123456789abcdef012345"

            for (name, bad) in [
                ("health", "days=0"), ("pool-plan", "days=0"), ("report", "from=yesterday"),
                ("leads", "from=yesterday"),
            ] {
                let template = "/v1/projects/{key}/\(name)"
                _ = try check("GET", template, "/v1/projects/shop/\(name)", 200)
                _ = try check("GET", template, "/v1/projects/shop/\(name)?\(bad)", 400)
                _ = try check("GET", template, "/v1/projects/shop/\(name)", 401, auth: false)
                _ = try check("GET", template, "/v1/projects/nope/\(name)", 404)
            }
            let sale = "/v1/calls/{id}/sale"
            _ = try check(
                "POST", sale, "/v1/calls/\(id)/sale", 201, headers: [json],
                body: #"{"amount": 1500, "deal_id": "crm-1"}"#)
            _ = try check(
                "POST", sale, "/v1/calls/\(id)/sale", 200, headers: [json],
                body: #"{"amount": 1700, "deal_id": "crm-1"}"#)
            _ = try check("POST", sale, "/v1/calls/\(id)/sale", 400, headers: [json], body: #"{"amount": "lots"}"#)
            _ = try check(
                "POST", sale, "/v1/calls/\(id)/sale", 401, auth: false, headers: [json], body: #"{"amount": 1}"#)
            _ = try check(
                "POST", sale, "/v1/calls/\(unknownCall)/sale", 404, headers: [json],
                body: #"{"amount": 1, "deal_id": "crm-9"}"#)
            let sales = "/v1/projects/{key}/sales"
            let deal = #"{"phone": "\#(caller)", "amount": 900, "deal_id": "crm-2"}"#
            _ = try check("POST", sales, "/v1/projects/shop/sales", 201, headers: [json], body: deal)
            _ = try check("POST", sales, "/v1/projects/shop/sales", 200, headers: [json], body: deal)
            _ = try check("POST", sales, "/v1/projects/shop/sales", 400, headers: [json], body: #"{"amount": 5}"#)
            _ = try check("POST", sales, "/v1/projects/shop/sales", 401, auth: false, headers: [json], body: deal)
            _ = try check("POST", sales, "/v1/projects/nope/sales", 404, headers: [json], body: deal)
            for export in ["metrica-calls.csv", "google-ads-conversions.csv"] {
                let template = "/v1/projects/{key}/exports/\(export)"
                _ = try check("GET", template, "/v1/projects/shop/exports/\(export)?from=yesterday", 400)
                _ = try check("GET", template, "/v1/projects/shop/exports/\(export)", 401, auth: false)
                _ = try check("GET", template, "/v1/projects/nope/exports/\(export)", 404)
            }
            let costs = "/v1/projects/{key}/costs"
            let row = #"{"rows": [{"date": "2026-11-01", "source": "google", "medium": "cpc", "amount": 1200.5}]}"#
            _ = try check("PUT", costs, "/v1/projects/shop/costs", 200, headers: [json], body: row)
            _ = try check(
                "PUT", costs, "/v1/projects/shop/costs", 400, headers: [json],
                body: #"{"rows": [{"date": "2026-11-01", "source": "google", "medium": "cpc", "amount": -1}]}"#)
            _ = try check("PUT", costs, "/v1/projects/shop/costs", 401, auth: false, headers: [json], body: row)
            _ = try check("PUT", costs, "/v1/projects/nope/costs", 404, headers: [json], body: row)
            _ = try check(
                "PUT", costs, "/v1/projects/shop/costs", 413, headers: [json],
                body: #"{"rows": [], "pad": ""# + String(repeating: "a", count: 4 * 1024 * 1024 + 10) + #""}"#)

            // Deliveries (to a dead endpoint: pending) and calls.
            let deliveries = try check("GET", "/v1/deliveries", "/v1/deliveries", 200)
            #expect(deliveries.contains("evt_"), "the call's deliveries are listed")
            _ = try check("GET", "/v1/deliveries", "/v1/deliveries?status=lost", 400)
            _ = try check("GET", "/v1/deliveries", "/v1/deliveries", 401, auth: false)
            _ = try check(
                "POST", "/v1/deliveries/{id}/retry", "/v1/deliveries/evt_00000000000000000000000000000000/retry", 401,
                auth: false)
            _ = try check(
                "POST", "/v1/deliveries/{id}/retry", "/v1/deliveries/evt_00000000000000000000000000000000/retry", 404)
            _ = try check("GET", "/v1/calls", "/v1/calls", 200)
            _ = try check("GET", "/v1/calls", "/v1/calls?limit=0", 400)
            _ = try check("GET", "/v1/calls", "/v1/calls", 401, auth: false)
            _ = try check("GET", "/v1/calls/{id}", "/v1/calls/\(id)", 200)
            _ = try check("GET", "/v1/calls/{id}", "/v1/calls/\(id)", 401, auth: false)
            _ = try check("GET", "/v1/calls/{id}", "/v1/calls/\(unknownCall)", 404)
            let recording = "/v1/calls/{id}/recording"
            _ = try check("GET", recording, "/v1/calls/\(id)/recording", 401, auth: false)
            _ = try check("GET", recording, "/v1/calls/\(unknownCall)/recording", 404)
            _ = try check("GET", recording, "/v1/calls/\(id)/recording", 416, headers: ["Range: bytes=99999999-"])

            // The dashboard's JSON answers, signed in.
            let session = try Self.signIn(server)
            _ = try check(
                "GET", "/calls/{id}/audio", "/calls/\(unknownCall)/audio", 404, auth: false,
                headers: ["Cookie: \(session.cookie)"])
            _ = try check(
                "POST", "/deliveries/retry", "/deliveries/retry", 404, auth: false,
                headers: ["Cookie: \(session.cookie)", "Content-Type: application/x-www-form-urlencoded"],
                body: "csrf=\(session.csrf)&id=evt_00000000000000000000000000000000")

            // Last: the address runs out of reservations for this minute.
            var limited = 0
            for i in 0..<40 where limited == 0 {
                let got = try Self.raw(
                    server, "POST", "/v1/projects/shop/reservations", headers: [json],
                    body: Data(#"{"client_id": "burst-\#(i)", "page": "http://shop.test/"}"#.utf8))
                if got.status == 429 {
                    limited += 1
                    samples.append(Sample(method: "POST", template: reserve, status: 429, body: got.body))
                }
            }
            #expect(limited == 1, "30 reservations a minute: the burst meets a 429")

            try Self.validate(samples)
        }
    }

    /// What only several nodes answer, from two nodes on a PostgreSQL of this test's own: the cluster view,
    /// a recording whose node is down, and a reservation while PostgreSQL is down.
    static func clusterSamples() async throws -> [Sample] {
        let postgres = try TestPostgres()
        defer { postgres.destroy() }
        let (nodeA, nodeB) = try await ClusterTests.startTwoNodes(try postgres.newDatabaseURL())
        var samples: [Sample] = []
        let bearer = "Authorization: Bearer \(CallTrackServer.adminToken)"
        func check(
            _ server: CallTrackServer, _ method: String, _ template: String, _ path: String, _ expected: Int,
            headers: [String] = [bearer], body: String = ""
        ) throws {
            let got = try Self.raw(server, method, path, headers: headers, body: Data(body.utf8))
            #expect(got.status == expected, "\(method) \(path): \(got.status) \(got.body.prefix(300))")
            samples.append(Sample(method: method, template: template, status: got.status, body: got.body))
        }
        try check(nodeA, "GET", "/healthz", "/healthz", 200, headers: [])
        try check(nodeA, "GET", "/v1/cluster", "/v1/cluster", 200)
        try await nodeB.placeAnsweredCall(dialling: "84990000001", talkMilliseconds: 300)
        let recorded = try #require(try await nodeA.finishedRecordings(count: 1).first?["url"] as? String)
        _ = try await nodeB.stop()
        try check(nodeA, "GET", "/v1/calls/{id}/recording", recorded, 503)
        try postgres.stop()
        try check(
            nodeA, "POST", "/v1/projects/{key}/reservations", "/v1/projects/shop/reservations", 503,
            headers: ["Content-Type: application/json"], body: #"{"client_id": "v", "page": "http://shop.test/"}"#)
        _ = try await nodeA.stop()
        return samples
    }

    /// Hands the samples to jsonschema: each must fit its documented schema, and every documented
    /// JSON response must have a sample.
    static func validate(_ samples: [Sample]) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("contract-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let list = samples.map {
            ["method": $0.method, "template": $0.template, "status": String($0.status), "body": $0.body]
        }
        try JSONSerialization.data(withJSONObject: list).write(to: dir.appendingPathComponent("samples.json"))
        let script = """
            import json, sys, yaml
            from jsonschema import Draft202012Validator
            doc = yaml.safe_load(open(sys.argv[1]))
            samples = json.load(open(sys.argv[2]))
            def resolve(o):
                while isinstance(o, dict) and "$ref" in o:
                    o = eval_ref(o["$ref"])
                return o
            def eval_ref(ref):
                x = doc
                for part in ref[2:].split("/"):
                    x = x[part]
                return x
            def inline(s):
                # Each use of a component gets its own copy, so that strictness can differ by place.
                if isinstance(s, dict):
                    if "$ref" in s:
                        return inline(eval_ref(s["$ref"]))
                    return {k: inline(v) for k, v in s.items()}
                if isinstance(s, list):
                    return [inline(v) for v in s]
                return s
            def strict(s, branch=False):
                # A real body may carry no field the document does not name. An allOf's parts each
                # name some of the fields: the object around them is the one closed.
                if isinstance(s, list):
                    return [strict(v) for v in s]
                if not isinstance(s, dict):
                    return s
                out = {k: strict(v) for k, v in s.items() if k != "allOf"}
                if "allOf" in s:
                    out["allOf"] = [strict_branch(v) for v in s["allOf"]]
                    out["unevaluatedProperties"] = False
                elif not branch and s.get("type") == "object" and "properties" in s and "additionalProperties" not in s:
                    out["additionalProperties"] = False
                return out
            def strict_branch(s):
                # The branch itself stays open; what is inside its fields is closed as usual.
                return strict(s, branch=True)
            problems, covered = [], set()
            for path, item in doc["paths"].items():
                for method, op in item.items():
                    if method not in ("get", "post", "put", "delete", "patch"):
                        continue
                    for status, response in op.get("responses", {}).items():
                        content = resolve(response).get("content", {})
                        if "application/json" not in content:
                            continue
                        schema = strict(inline(content["application/json"]["schema"]))
                        validator = Draft202012Validator(schema)
                        mine = [s for s in samples if s["method"] == method.upper() and s["template"] == path and s["status"] == status]
                        if not mine:
                            problems.append(f"{method.upper()} {path} {status}: no real response was checked")
                        for s in mine:
                            covered.add((s["method"], s["template"], s["status"]))
                            try:
                                body = json.loads(s["body"])
                            except ValueError:
                                problems.append(f"{method.upper()} {path} {status}: not JSON: {s['body'][:200]!r}")
                                continue
                            for e in validator.iter_errors(body):
                                problems.append(f"{method.upper()} {path} {status}: {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}")
            for s in samples:
                if (s["method"], s["template"], s["status"]) not in covered:
                    problems.append(f"{s['method']} {s['template']} {s['status']}: answered, but the document has no JSON response for it")
            print("\\n".join(problems))
            print(f"{len(samples)} responses checked", file=sys.stderr)
            sys.exit(1 if problems else 0)
            """
        let (status, problems) = try runCommand([
            "python3", "-c", script, root.appendingPathComponent("docs/openapi.yaml").path,
            dir.appendingPathComponent("samples.json").path,
        ])
        #expect(status == 0, "\(problems)")
    }
}
