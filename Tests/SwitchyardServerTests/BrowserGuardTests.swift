// SPDX-License-Identifier: Apache-2.0

import Foundation
import HTTPTypes
import Hummingbird
import SwitchyardCore
import SwitchyardTesting
import Testing

@testable import SwitchyardServer

/// DNS rebinding and cross-origin defences, CORS, the request id on every answer, and what a 502 reveals.
@Suite(.timeLimit(.minutes(1)))
struct BrowserGuardTests {
    static let models = ["m": ModelConfiguration(routes: [.init(provider: "up", model: "ok")])]

    @Test("Names this machine: loopback names, 127/8 and the listen address, with or without a port")
    func recognisesLocalHosts() {
        var configuration = GatewayConfiguration()
        configuration.host = "127.0.0.2"
        let guardian = BrowserGuard(configuration: configuration)
        for host in [
            "localhost", "LOCALHOST:4000", "127.0.0.1", "127.0.0.1:4000", "[::1]:4000", "127.0.0.2:1", "a.localhost",
        ] {
            #expect(guardian.isLocal(host), "\(host)")
        }
        for host in ["evil.example", "evil.example:4000", "127.0.0.1.evil.example", "0x7f.0.0.1", "10.0.0.1", "[::2]"] {
            #expect(!guardian.isLocal(host), "\(host)")
        }
    }

    @Test("Without a master key a foreign Host or Origin is refused before any upstream call; every answer has an id")
    func refusesForeignHostsAndOrigins() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(upstream: upstream, models: Self.models) { _, port in
            let body = TestGateway.chatBody(model: "m")
            let rebound = try await TestGateway.send(
                port: port,
                body: body,
                headers: [("host", "evil.example:\(port)")]
            )
            #expect(rebound.status == 403)
            #expect(try ErrorBody(rebound.body).code == "host_not_allowed")
            #expect(rebound.headers["x-switchyard-request-id"]?.hasPrefix("req_") == true)

            let crossOrigin = try await TestGateway.send(
                port: port,
                body: body,
                headers: [("origin", "https://evil.example")]
            )
            #expect(crossOrigin.status == 403)
            #expect(try ErrorBody(crossOrigin.body).code == "origin_not_allowed")
            #expect(crossOrigin.headers["access-control-allow-origin"] == nil)
            #expect(upstream.calls.isEmpty)

            // The gateway's own origin is not cross-origin.
            let sameOrigin = try await TestGateway.send(
                port: port,
                body: body,
                headers: [("origin", "http://127.0.0.1:\(port)")]
            )
            #expect(sameOrigin.status == 200)
            #expect(upstream.calls.count == 1)

            // Every answer carries a request id, and answers outside the pipeline are counted.
            let unknownPath = try await TestGateway.send(port: port, path: "/v2/nothing", method: .GET)
            #expect(unknownPath.status == 404 && unknownPath.headers["x-switchyard-request-id"] != nil)
            let models = try await TestGateway.send(port: port, path: "/v1/models", method: .GET)
            #expect(models.headers["x-switchyard-request-id"] != nil)
            let metrics = try await TestGateway.send(port: port, path: "/metrics", method: .GET)
            #expect(metrics.body.contains(#"switchyard_http_responses_total{path="other",status="404"} 1"#))
            #expect(
                metrics.body.contains(#"switchyard_http_responses_total{path="/v1/chat/completions",status="403"} 2"#)
            )
        }
    }

    @Test("CORS is opt-in: a listed origin gets a preflight answer and CORS headers, others nothing")
    func corsIsOptIn() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            configure: { port in
                var configuration = TestGateway.configuration(upstreamPort: port, models: Self.models)
                configuration.server.corsOrigins = ["https://app.example.com"]
                return configuration
            }
        ) { _, port in
            let preflight = try await TestGateway.send(
                port: port,
                method: .OPTIONS,
                headers: [
                    ("origin", "https://app.example.com"), ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "authorization, content-type"),
                ]
            )
            #expect(preflight.status == 204)
            #expect(preflight.headers["access-control-allow-origin"] == "https://app.example.com")
            #expect(preflight.headers["access-control-allow-headers"] == "authorization, content-type")
            let call = try await TestGateway.send(
                port: port,
                body: TestGateway.chatBody(model: "m"),
                headers: [("origin", "https://app.example.com")]
            )
            #expect(call.status == 200)
            #expect(call.headers["access-control-allow-origin"] == "https://app.example.com")
            #expect(call.headers["access-control-expose-headers"]?.contains("x-switchyard-cost-usd") == true)
            let other = try await TestGateway.send(
                port: port,
                method: .OPTIONS,
                headers: [("origin", "https://other.example"), ("access-control-request-method", "POST")]
            )
            #expect(other.status == 403)
        }
    }

    @Test("With a master key the Host is not checked; /metrics can require the key")
    func masterKeyAndMetricsAuth() async throws {
        try await TestGateway.run(
            configure: { port in
                var configuration = TestGateway.configuration(upstreamPort: port, models: Self.models)
                configuration.masterKey = "sk-master-0123456789"
                configuration.server.metricsAuth = true
                return configuration
            }
        ) { _, port in
            let key = ("authorization", "Bearer sk-master-0123456789")
            let proxied = try await TestGateway.send(
                port: port,
                body: TestGateway.chatBody(model: "m"),
                headers: [("host", "gateway.internal"), key]
            )
            #expect(proxied.status == 200)
            #expect(try await TestGateway.send(port: port, path: "/metrics", method: .GET).status == 401)
            #expect(
                try await TestGateway.send(port: port, path: "/metrics", method: .GET, headers: [key]).status == 200
            )
        }
    }

    @Test("A 502 names each route and the failure but no upstream address; the request log keeps the address")
    func keepsAddressesOutOfErrors() async throws {
        try await TestGateway.run(models: ["m": ModelConfiguration(routes: [.init(provider: "down", model: "x")])]) {
            gateway,
            port in
            let failed = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "m"))
            #expect(failed.status == 502)
            let message = try ErrorBody(failed.body).message
            #expect(message.contains("down/x") && message.contains("cannot connect to the upstream"))
            #expect(!message.contains("127.0.0.1") && !message.contains(":9"))
            await gateway.requestLog.flush()
            let rows = try await gateway.store.records(matching: RequestLogQuery())
            #expect(rows.first?.error?.contains("127.0.0.1:9") == true)
        }
    }
}
