// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore
import SwitchyardTesting
import Testing

@testable import SwitchyardServer

@Suite("Web console")
struct ConsoleTests {
    private static let master = "sk-master-console-0123456789"
    private static let models: [String: ModelConfiguration] = [
        "m": ModelConfiguration(routes: [.init(provider: "up", model: "ok")]),
        "mixed": ModelConfiguration(routes: [
            .init(provider: "up", model: "gpt-4o-mini"), .init(provider: "up", model: "o3-mini"),
        ]),
        "plain": ModelConfiguration(routes: [.init(provider: "up", model: "deepseek-chat")]),
    ]

    private static func configuration(_ port: Int, master: Bool) -> GatewayConfiguration {
        var configuration = TestGateway.configuration(upstreamPort: port, models: Self.models)
        if master { configuration.masterKey = Self.master }
        return configuration
    }

    /// The value of the session cookie a response sets, if any.
    private static func sessionCookie(_ headers: [String: String]) -> String? {
        guard let line = headers["set-cookie"], line.hasPrefix("switchyard_session=") else { return nil }
        return String(line.dropFirst("switchyard_session=".count).prefix { $0 != ";" })
    }

    /// The CSRF token a page carries.
    private static func csrf(_ html: String) throws -> String {
        let marker = #"<meta name="csrf-token" content=""#
        let start = try #require(html.range(of: marker)).upperBound
        return String(html[start...].prefix { $0 != "\"" })
    }

    private static func get(
        _ port: Int,
        _ path: String,
        cookie: String?
    ) async throws -> (
        status: Int, headers: [String: String], body: String
    ) {
        try await TestGateway.send(
            port: port,
            path: path,
            method: .GET,
            headers: cookie.map { [("cookie", "switchyard_session=\($0)")] } ?? []
        )
    }

    private static func post(
        _ port: Int,
        _ path: String,
        form: String,
        cookies: [String]
    ) async throws -> (
        status: Int, headers: [String: String], body: String
    ) {
        try await TestGateway.send(
            port: port,
            path: path,
            method: .POST,
            body: form,
            headers: [
                ("content-type", "application/x-www-form-urlencoded"), ("cookie", cookies.joined(separator: "; ")),
            ]
        )
    }

    @Test("Without keys every page renders from live data, with a strict CSP and an HttpOnly SameSite=Strict cookie")
    func openConsole() async throws {
        try await TestGateway.run(configure: { Self.configuration($0, master: false) }) { gateway, port in
            let call = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "m"))
            #expect(call.status == 200)
            let requestID = try #require(call.headers["x-switchyard-request-id"])
            await gateway.requestLog.flush()
            gateway.statistics.refresh()

            let catalog = try await Self.get(port, "/", cookie: nil)
            #expect(catalog.status == 200)
            #expect(catalog.headers["content-security-policy"]?.contains("script-src 'self'") == true)
            #expect(catalog.headers["content-security-policy"]?.contains("default-src 'none'") == true)
            let setCookie = try #require(catalog.headers["set-cookie"])
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
            #expect(!setCookie.contains("Secure"))
            #expect(catalog.body.contains(#"<a href="/models/m">m</a>"#))
            #expect(!catalog.body.contains("<script>"), "no inline script")
            let cookie = try #require(Self.sessionCookie(catalog.headers))

            let filtered = try await Self.get(port, "/?q=no-such-model", cookie: cookie)
            #expect(filtered.body.contains("No model matches."))

            let model = try await Self.get(port, "/models/m", cookie: cookie)
            #expect(model.status == 200)
            #expect(model.body.contains("<td>up</td><td>ok</td>"))
            #expect(model.body.contains(#"<td>up/ok</td><td>5m</td><td class="num">1</td>"#))
            #expect(model.body.contains("<svg class=\"spark\""))
            #expect(model.body.contains("http://127.0.0.1:\(port)/v1/chat/completions"))
            #expect((try await Self.get(port, "/models/nope", cookie: cookie)).status == 404)
            // "Watch out for" comes from the catalog facts of the routes.
            let mixed = try await Self.get(port, "/models/mixed", cookie: cookie)
            #expect(mixed.body.contains("No image input on up/o3-mini: calls with images skip those routes."))
            #expect(mixed.body.contains("Context windows differ by route: up/gpt-4o-mini take(s) 128,000 tokens"))
            let plain = try await Self.get(port, "/models/plain", cookie: cookie)
            #expect(plain.body.contains("No JSON-schema structured output: JSON mode (json_object) only."))
            #expect(plain.body.contains("Output is limited to 8,192 tokens although the context window is 131,072"))
            #expect(plain.body.contains("No image input: image content parts are refused."))
            #expect(!model.body.contains("Watch out for") || !model.body.contains("No image input on"))

            let logs = try await Self.get(port, "/logs", cookie: cookie)
            #expect(logs.body.contains(requestID))
            let searched = try await Self.get(port, "/logs?q=\(requestID.suffix(12))", cookie: cookie)
            #expect(searched.body.contains(requestID))
            #expect(!(try await Self.get(port, "/logs?status=500", cookie: cookie)).body.contains(requestID))
            let badFilter = try await Self.get(port, "/logs?status=abc", cookie: cookie)
            #expect(badFilter.status == 400 && badFilter.body.contains("`status` must be an HTTP status"))
            #expect(badFilter.headers["content-type"]?.hasPrefix("text/html") == true)
            let detail = try await Self.get(port, "/logs/\(requestID)", cookie: cookie)
            #expect(detail.body.contains("Upstream model</dt><dd>ok</dd>"))
            #expect(detail.body.contains("Say hello"), "bodies are kept without zero data retention")

            let csv = try await Self.get(port, "/logs/export?format=csv", cookie: cookie)
            #expect(csv.headers["content-disposition"]?.contains("switchyard-requests.csv") == true)
            #expect(csv.body.hasPrefix("id,started_at,key,team,endpoint,model") && csv.body.contains(requestID))
            let jsonl = try await Self.get(port, "/logs/export?format=jsonl", cookie: cookie)
            let line = try #require(jsonl.body.split(separator: "\n").first)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["id"] as? String == requestID)

            let spend = try await Self.get(port, "/spend?by=model&days=7", cookie: cookie)
            #expect(spend.status == 200 && spend.body.contains(#"<svg class="chart""#))
            #expect(spend.body.contains("<td>m</td><td class=\"num\">1</td>"))

            let keys = try await Self.get(port, "/keys", cookie: cookie)
            #expect(keys.body.contains("Virtual keys need a master key"))
            #expect(!keys.body.contains("Create key"))
            let playground = try await Self.get(port, "/playground", cookie: cookie)
            #expect(playground.body.contains(#"<option value="m" selected>m</option>"#))
            #expect((try await Self.get(port, "/login", cookie: cookie)).status == 303)
        }
    }

    @Test("With a master key pages need a sign-in; viewers read; admins create and revoke keys with CSRF tokens")
    func signInAndKeys() async throws {
        try await TestGateway.run(configure: { Self.configuration($0, master: true) }) { gateway, port in
            let anonymous = try await Self.get(port, "/logs?model=m", cookie: nil)
            #expect(anonymous.status == 303 && anonymous.headers["location"] == "/login?next=%2Flogs%3Fmodel%3Dm")
            // A forged session cookie is no session.
            #expect((try await Self.get(port, "/", cookie: "e30.AAAA")).status == 303)

            let form = try await Self.get(port, "/login", cookie: nil)
            #expect(form.status == 200)
            let nonceLine = try #require(form.headers["set-cookie"])
            let nonce = String(nonceLine.prefix { $0 != ";" })
            let csrf = try Self.csrf(
                form.body.replacingOccurrences(of: #"name="csrf" value=""#, with: #"<meta name="csrf-token" content=""#)
            )
            let wrong = try await Self.post(port, "/login", form: "key=nope&csrf=\(csrf)&next=/logs", cookies: [nonce])
            #expect(wrong.status == 401)
            let forged = try await Self.post(port, "/login", form: "key=\(Self.master)&csrf=x&next=/", cookies: [nonce])
            #expect(forged.status == 403)
            let signedIn = try await Self.post(
                port,
                "/login",
                form: "key=\(Self.master)&csrf=\(csrf)&next=/keys",
                cookies: [nonce]
            )
            #expect(signedIn.status == 303 && signedIn.headers["location"] == "/keys")
            let admin = try #require(Self.sessionCookie(signedIn.headers))
            #expect(!admin.contains(Self.master) && !(Data(base64Encoded: admin) != nil))

            let keys = try await Self.get(port, "/keys", cookie: admin)
            #expect(keys.status == 200 && keys.body.contains("Create key"))
            let token = try Self.csrf(keys.body)
            let refused = try await Self.post(
                port,
                "/keys",
                form: "name=viewer-1&role=viewer",
                cookies: ["switchyard_session=\(admin)"]
            )
            #expect(refused.status == 403, "no CSRF token")
            let created = try await Self.post(
                port,
                "/keys",
                form: "csrf=\(token)&name=viewer-1&role=viewer&budget=5&period=monthly",
                cookies: ["switchyard_session=\(admin)"]
            )
            #expect(created.status == 201)
            let secretStart = try #require(created.body.range(of: #"<pre id="new-secret"><code>"#)).upperBound
            let secret = String(created.body[secretStart...].prefix { $0 != "<" })
            #expect(secret.hasPrefix("sk-sy-"))
            let key = try #require(gateway.keys?.all.first { $0.name == "viewer-1" })
            #expect(key.role == .viewer && key.budget?.usd == 5)

            // The viewer signs in: reads logs, may not see keys or use the playground.
            let viewerForm = try await Self.get(port, "/login", cookie: nil)
            let viewerNonce = String(try #require(viewerForm.headers["set-cookie"]).prefix { $0 != ";" })
            let viewerCSRF = try Self.csrf(
                viewerForm.body.replacingOccurrences(
                    of: #"name="csrf" value=""#,
                    with: #"<meta name="csrf-token" content=""#
                )
            )
            let viewerIn = try await Self.post(
                port,
                "/login",
                form: "key=\(secret)&csrf=\(viewerCSRF)&next=/logs",
                cookies: [viewerNonce]
            )
            let viewer = try #require(Self.sessionCookie(viewerIn.headers))
            #expect((try await Self.get(port, "/logs", cookie: viewer)).status == 200)
            #expect((try await Self.get(port, "/keys", cookie: viewer)).status == 403)
            #expect((try await Self.get(port, "/playground", cookie: viewer)).status == 403)

            // Revoking the key ends its session at once.
            let revoked = try await Self.post(
                port,
                "/keys/\(key.id)/revoke",
                form: "csrf=\(token)",
                cookies: ["switchyard_session=\(admin)"]
            )
            #expect(revoked.status == 303 && revoked.headers["location"] == "/keys")
            #expect((try await Self.get(port, "/keys", cookie: admin)).body.contains("<td>revoked</td>"))
            #expect((try await Self.get(port, "/logs", cookie: viewer)).status == 303)
            #expect((try await gateway.keys?.key(key.id))?.revokedAt != nil)
        }
    }

    @Test("The playground streams a call for the signed-in admin, and refuses one without the CSRF token")
    func playground() async throws {
        try await TestGateway.run(configure: { Self.configuration($0, master: false) }) { _, port in
            let page = try await Self.get(port, "/playground", cookie: nil)
            let cookie = try #require(Self.sessionCookie(page.headers))
            let token = try Self.csrf(page.body)
            let body = TestGateway.chatBody(
                model: "m",
                stream: true,
                extra: #","stream_options":{"include_usage":true}"#
            )
            let refused = try await TestGateway.send(
                port: port,
                path: "/playground/chat",
                body: body,
                headers: [("cookie", "switchyard_session=\(cookie)")]
            )
            #expect(refused.status == 403)
            let answer = try await TestGateway.send(
                port: port,
                path: "/playground/chat",
                body: body,
                headers: [("cookie", "switchyard_session=\(cookie)"), ("x-csrf-token", token)]
            )
            #expect(answer.status == 200)
            #expect(answer.headers["x-switchyard-provider"] == "up")
            #expect(answer.body.contains(#""usage":{"prompt_tokens":10"#) && answer.body.contains(#""content":"Hel""#))
            #expect(answer.body.hasSuffix("data: [DONE]\n\n"))
        }
    }

    @Test("CSV fields are quoted and formula-neutralised; local paths only as sign-in targets")
    func helpers() {
        #expect(ConsoleRoutes.csvField("plain") == "plain")
        #expect(ConsoleRoutes.csvField("a,b") == "\"a,b\"")
        #expect(ConsoleRoutes.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(ConsoleRoutes.csvField("=cmd()") == "'=cmd()")
        #expect(ConsoleRoutes.localPath("/logs?x=1") == "/logs?x=1")
        #expect(ConsoleRoutes.localPath("//evil.example") == "/")
        #expect(ConsoleRoutes.localPath("https://evil.example") == "/")
        #expect(ConsoleRoutes.localPath("/\\evil") == "/")
    }
}
