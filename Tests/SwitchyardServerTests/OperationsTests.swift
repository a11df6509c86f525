// SPDX-License-Identifier: Apache-2.0

import Foundation
import HTTPTypes
import Hummingbird
import SwitchyardCore
import SwitchyardTesting
import Testing

@testable import SwitchyardServer

/// Keys, the request log, the admin API, models, health and metrics.
@Suite(.timeLimit(.minutes(1)))
struct OperationsTests {
    static func configuration(_ port: Int) -> GatewayConfiguration {
        var configuration = TestGateway.configuration(
            upstreamPort: port,
            models: ["m": ModelConfiguration(routes: [.init(provider: "up", model: "ok")])]
        )
        configuration.masterKey = "sk-master-0123456789"
        configuration.keys = [
            KeyConfiguration(name: "team-a", key: "sk-team-a", models: ["m"]),
            KeyConfiguration(name: "private", key: "sk-private", zeroDataRetention: true),
        ]
        return configuration
    }

    @Test("With a master key every call needs a valid key; allow-lists give 403")
    func requiresKeys() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(upstream: upstream, configure: Self.configuration) { _, port in
            let body = TestGateway.chatBody(model: "m")
            let missing = try await TestGateway.send(port: port, body: body)
            #expect(missing.status == 401)
            #expect(try ErrorBody(missing.body).type == "authentication_error")
            #expect(
                try await TestGateway.send(port: port, body: body, headers: [("authorization", "Bearer wrong")]).status
                    == 401
            )
            #expect(
                try await TestGateway.send(
                    port: port,
                    body: body,
                    headers: [("authorization", "Bearer sk-master-0123456789")]
                )
                .status == 200
            )
            #expect(
                try await TestGateway.send(port: port, body: body, headers: [("x-api-key", "sk-team-a")]).status == 200
            )
            let forbidden = try await TestGateway.send(
                port: port,
                body: TestGateway.chatBody(model: "up/ok"),
                headers: [("authorization", "Bearer sk-team-a")]
            )
            #expect(forbidden.status == 403)
            #expect(try await TestGateway.send(port: port, path: "/v1/models", method: .GET).status == 401)
            let metrics = try await TestGateway.send(
                port: port,
                path: "/metrics",
                method: .GET,
                headers: [("authorization", "Bearer sk-master-0123456789")]
            )
            // Two 401s from the completion endpoint, one from /v1/models: all counted, with fixed labels.
            #expect(
                metrics.body.contains(#"switchyard_http_responses_total{path="/v1/chat/completions",status="401"} 2"#)
            )
            #expect(metrics.body.contains(#"switchyard_http_responses_total{path="/v1/models",status="401"} 1"#))
            #expect(upstream.calls.count == 2)
            #expect(upstream.calls.allSatisfy { $0.authorization == "Bearer sk-upstream-secret" })
        }
    }

    @Test("The request log keeps metadata for every call and bodies unless zero data retention applies")
    func logsRequests() async throws {
        try await TestGateway.run(configure: Self.configuration) { gateway, port in
            let body = TestGateway.chatBody(model: "m")
            _ = try await TestGateway.send(port: port, body: body, headers: [("authorization", "Bearer sk-team-a")])
            _ = try await TestGateway.send(port: port, body: body, headers: [("authorization", "Bearer sk-private")])

            let logs = try await TestGateway.send(
                port: port,
                path: "/admin/logs?key=team-a&limit=10",
                method: .GET,
                headers: [("authorization", "Bearer sk-master-0123456789")]
            )
            #expect(logs.status == 200)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(logs.body.utf8)) as? [String: Any])
            let rows = try #require(object["data"] as? [[String: Any]])
            #expect(rows.count == 1)
            let row = try #require(rows.first)
            #expect(row["key_name"] as? String == "team-a")
            #expect(row["model"] as? String == "m")
            #expect(row["provider"] as? String == "up")
            #expect(row["upstream_model"] as? String == "ok")
            #expect(row["status"] as? Int == 200)
            #expect(row["input_tokens"] as? Int == 10)
            #expect(row["cached_input_tokens"] as? Int == 4)
            #expect(row["output_tokens"] as? Int == 20)
            #expect((row["request_body"] as? String)?.contains("Say hello") == true)
            #expect((row["response_body"] as? String)?.contains("Hello from upstream") == true)

            let privateRows = try await gateway.store.records(matching: .init(keyName: "private"))
            #expect(privateRows.count == 1)
            #expect(privateRows.first?.requestBody == nil)
            #expect(privateRows.first?.responseBody == nil)

            let denied = try await TestGateway.send(
                port: port,
                path: "/admin/logs",
                method: .GET,
                headers: [("authorization", "Bearer sk-team-a")]
            )
            // A valid client key is known, but may not use the admin API.
            #expect(denied.status == 403)
            let badLimit = try await TestGateway.send(
                port: port,
                path: "/admin/logs?limit=0",
                method: .GET,
                headers: [("authorization", "Bearer sk-master-0123456789")]
            )
            #expect(badLimit.status == 400)
        }
    }

    @Test("Lists models with catalog fields, serves one by id, and answers health, readiness and metrics")
    func servesOperations() async throws {
        try await TestGateway.run(configure: { port in
            var configuration = TestGateway.configuration(upstreamPort: port, models: [:])
            configuration.providers["openai"] = configuration.providers["up"]
            return configuration
        }) { _, port in
            let list = try await TestGateway.send(port: port, path: "/v1/models", method: .GET)
            #expect(list.status == 200)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(list.body.utf8)) as? [String: Any])
            let data = try #require(object["data"] as? [[String: Any]])
            let mini = try #require(data.first { $0["id"] as? String == "gpt-4o-mini" })
            #expect(mini["object"] as? String == "model")
            #expect(mini["context_window"] as? Int == 128_000)
            #expect(mini["max_output_tokens"] as? Int == 16_384)
            #expect((mini["pricing"] as? [String: Any])?["cached_input"] as? Double == 0.075)
            let route = try #require((mini["routes"] as? [[String: Any]])?.first)
            #expect(route["provider"] as? String == "openai")
            #expect(route["context_window"] as? Int == 128_000)
            #expect((route["supported_parameters"] as? [String])?.contains("tools") == true)
            #expect((route["modalities"] as? [String: [String]])?["input"] == ["text", "image"])
            #expect(route["knowledge_cutoff"] as? String == "2023-10-01")

            let one = try await TestGateway.send(port: port, path: "/v1/models/openai/gpt-4o-mini", method: .GET)
            #expect(one.status == 200)
            #expect(one.body.contains(#""context_window":128000"#))
            #expect(try await TestGateway.send(port: port, path: "/v1/models/nope", method: .GET).status == 404)

            _ = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "gpt-4o-mini"))
            _ = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "made-up-model-name"))
            #expect(try await TestGateway.send(port: port, path: "/health", method: .GET).status == 200)
            #expect(try await TestGateway.send(port: port, path: "/ready", method: .GET).status == 200)
            let metrics = try await TestGateway.send(port: port, path: "/metrics", method: .GET)
            #expect(
                metrics.body.contains(
                    #"switchyard_requests_total{endpoint="chat.completions",model="gpt-4o-mini",provider="openai",status="200",cache="bypass"} 1"#
                )
            )
            #expect(metrics.body.contains("switchyard_tokens_total"))
            // GenAI histograms with the conventions' buckets, and nothing left in flight.
            let genAI =
                #"gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o-mini","#
                + #"gen_ai_response_model="gpt-4o-mini",provider="openai""#
            #expect(metrics.body.contains(#"gen_ai_client_operation_duration_seconds_bucket{\#(genAI),le="0.01"}"#))
            #expect(metrics.body.contains(#"gen_ai_client_operation_duration_seconds_count{\#(genAI)} 1"#))
            #expect(
                metrics.body.contains(
                    #"gen_ai_client_token_usage_bucket{\#(genAI),gen_ai_token_type="input",le="4.0"}"#
                )
            )
            #expect(metrics.body.contains(#"switchyard_requests_in_flight{endpoint="chat.completions"} 0"#))
            // Unknown model names never become label values.
            #expect(!metrics.body.contains("made-up-model-name"))
            #expect(
                metrics.body.contains(
                    #"switchyard_requests_total{endpoint="chat.completions",model="other",provider="none",status="404",cache="none"} 1"#
                )
            )
        }
    }

    @Test("With server.metrics off nothing is recorded and /metrics is 404, while calls are still served and logged")
    func metricsOff() async throws {
        try await TestGateway.run(configure: { port in
            var configuration = TestGateway.configuration(
                upstreamPort: port,
                models: ["m": ModelConfiguration(routes: [.init(provider: "up", model: "ok")])]
            )
            configuration.server.metrics = false
            return configuration
        }) { gateway, port in
            #expect(try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "m")).status == 200)
            let metrics = try await TestGateway.send(port: port, path: "/metrics", method: .GET)
            #expect(metrics.status == 404 && metrics.body.contains("server.metrics"))
            await gateway.requestLog.flush()
            #expect(try await gateway.store.records(matching: .init()).count == 1)
            // Only the request log writer's own series exist; no request was counted.
            let exposed = String(decoding: gateway.registry.emitToBuffer(), as: UTF8.self)
            #expect(!exposed.contains("switchyard_requests") && !exposed.contains("gen_ai_"))
        }
    }

    @Test("Refuses to listen beyond loopback without a master key")
    func refusesOpenListen() async throws {
        var configuration = GatewayConfiguration()
        configuration.providers["simulator"] = ProviderConfiguration(type: "simulator")
        configuration.host = "0.0.0.0"
        configuration.store = .memory
        #expect(throws: ConfigurationError.self) {
            try Gateway(configuration: configuration, logger: TestGateway.logger)
        }
        configuration.masterKey = "sk-master-0123456789"
        let gateway = try Gateway(configuration: configuration, logger: TestGateway.logger)
        #expect(gateway.configuration.host == "0.0.0.0")
        try await gateway.shutdown()
    }

    @Test(
        "Reads the key from a Bearer header in any case, or from x-api-key",
        arguments: [
            ("Bearer sk-1", "sk-1"), ("bearer sk-1", "sk-1"), ("BEARER  sk-1", "sk-1"), ("Bearer \tsk-1 ", "sk-1"),
            ("sk-1", "sk-1"),
        ]
    )
    func readsPresentedKey(_ authorization: String, _ key: String) {
        #expect(CompletionRoutes.presentedKey([.authorization: authorization]) == key)
        #expect(CompletionRoutes.presentedKey([.xAPIKey: "sk-2"]) == "sk-2")
        #expect(CompletionRoutes.presentedKey([:]) == nil)
    }
}
