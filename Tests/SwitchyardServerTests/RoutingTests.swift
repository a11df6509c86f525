// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// Retries, fallback and the capability filter, with upstream call counts asserted.
@Suite(.timeLimit(.minutes(1)))
struct RoutingTests {
    @Test(
        "Once a real provider serves a model, its failure reaches the caller: the simulator never answers in its place"
    )
    func neverFallsBackToTheSimulator() async throws {
        try await TestGateway.run(
            configure: { _ in
                // As the embedded default with OPENAI_API_KEY set, but the key's provider is unreachable.
                var configuration = GatewayConfiguration.embeddedDefault(environment: [:])
                configuration.providers["openai"] = ProviderConfiguration(
                    type: "openai",
                    baseURL: "http://127.0.0.1:9/v1",
                    apiKey: "sk-invalid"
                )
                configuration.port = 0
                configuration.store = .memory
                return configuration
            }
        ) { _, port in
            let real = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "gpt-4o-mini"))
            #expect(real.status == 502)
            #expect(real.headers["x-switchyard-provider"] == nil)
            // The simulator still plays the model when asked by name, and serves models no real provider has.
            let pinned = try await TestGateway.send(
                port: port,
                body: TestGateway.chatBody(model: "simulator/gpt-4o-mini")
            )
            #expect(pinned.status == 200 && pinned.headers["x-switchyard-provider"] == "simulator")
            let other = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "claude-sonnet-4-5"))
            #expect(other.status == 200 && other.headers["x-switchyard-provider"] == "simulator")
        }
    }

    @Test("Retries a 5xx route, then falls back to the next route")
    func fallsBackAfterRetries() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            models: [
                "m": ModelConfiguration(routes: [
                    .init(provider: "up", model: "server-error"), .init(provider: "up", model: "ok"),
                ])
            ]
        ) { _, port in
            let response = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "m"))
            #expect(response.status == 200)
            #expect(response.headers["x-switchyard-attempts"] == "3")
            #expect(response.headers["x-switchyard-model"] == "ok")
            #expect(upstream.calledModels == ["server-error", "server-error", "ok"])
        }
    }

    @Test("Retries a rate-limited route honouring Retry-After, and reports 502 naming each route when all fail")
    func reportsEveryFailedRoute() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            models: [
                "m": ModelConfiguration(routes: [
                    .init(provider: "up", model: "rate-limited"), .init(provider: "down", model: "ok"),
                ])
            ]
        ) { _, port in
            let response = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "m"))
            #expect(response.status == 502)
            let error = try ErrorBody(response.body)
            #expect(error.message.contains("up/rate-limited"))
            #expect(error.message.contains("429"))
            #expect(error.message.contains("down/ok"))
            #expect(error.code == "upstream_failed")
            #expect(upstream.calledModels == ["rate-limited", "rate-limited"])
        }
    }

    @Test("An upstream 401 is not retried but falls back; a 400 goes back to the client without fallback")
    func classifiesClientErrors() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            models: [
                "auth": ModelConfiguration(routes: [
                    .init(provider: "up", model: "unauthorized"), .init(provider: "up", model: "ok"),
                ]),
                "bad": ModelConfiguration(routes: [
                    .init(provider: "up", model: "bad-request"), .init(provider: "up", model: "ok"),
                ]),
            ]
        ) { _, port in
            let fallback = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "auth"))
            #expect(fallback.status == 200)
            #expect(upstream.calledModels == ["unauthorized", "ok"])

            let rejected = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "bad"))
            #expect(rejected.status == 400)
            #expect(try ErrorBody(rejected.body).message.contains("temperature"))
            #expect(upstream.calledModels == ["unauthorized", "ok", "bad-request"])
        }
    }

    @Test("Falls back to the models listed under `fallbacks` after every route failed")
    func usesFallbackModels() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            models: [
                "primary": ModelConfiguration(
                    routes: [.init(provider: "up", model: "server-error")],
                    fallbacks: ["backup"]
                ),
                "backup": ModelConfiguration(routes: [.init(provider: "up", model: "ok")]),
            ]
        ) { _, port in
            let response = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "primary"))
            #expect(response.status == 200)
            #expect(upstream.calledModels == ["server-error", "server-error", "ok"])
        }
    }

    @Test("A request with tools skips routes without tool calling")
    func skipsRoutesWithoutTools() async throws {
        let upstream = FakeOpenAIUpstream()
        let tools = #","tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}]"#
        try await TestGateway.run(
            upstream: upstream,
            models: [
                "m": ModelConfiguration(routes: [
                    .init(
                        provider: "up",
                        model: "server-error",
                        capabilities: CapabilityOverrides(["tools": false])
                    ),
                    .init(provider: "up", model: "ok"),
                ]),
                "plain": ModelConfiguration(routes: [
                    .init(provider: "up", model: "ok", capabilities: CapabilityOverrides(["tools": false]))
                ]),
            ]
        ) { _, port in
            let response = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "m", extra: tools))
            #expect(response.status == 200)
            #expect(upstream.calledModels == ["ok"])

            let refused = try await TestGateway.send(
                port: port,
                body: TestGateway.chatBody(model: "plain", extra: tools)
            )
            #expect(refused.status == 400)
            let error = try ErrorBody(refused.body)
            #expect(error.param == "tools")
            #expect(error.message.contains("tool calling"))
            #expect(upstream.calledModels == ["ok"])
        }
    }

    @Test("An image part never goes to a text-only route, and max_tokens above every route's limit is a 400 naming it")
    func enforcesVisionAndMaxOutput() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            configure: { port in
                var configuration = TestGateway.configuration(upstreamPort: port, models: [:])
                var small = RouteConfiguration(
                    provider: "up",
                    model: "ok",
                    capabilities: CapabilityOverrides(["vision": false])
                )
                small.maxOutputTokens = 4096
                configuration.models["m"] = ModelConfiguration(routes: [small])
                return configuration
            }
        ) { _, port in
            let image =
                #"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}"#
            let vision = try await TestGateway.send(port: port, body: image)
            #expect(vision.status == 400)
            #expect(try ErrorBody(vision.body).message.contains("image input"))

            let tooMany = try await TestGateway.send(
                port: port,
                body: TestGateway.chatBody(model: "m", extra: #","max_tokens":100000"#)
            )
            #expect(tooMany.status == 400)
            let error = try ErrorBody(tooMany.body)
            #expect(error.param == "max_tokens")
            #expect(error.message.contains("4096"))
            #expect(upstream.calls.isEmpty)
        }
    }
}

/// The `error` object of an OpenAI error body.
struct ErrorBody {
    var message: String
    var type: String
    var param: String?
    var code: String?

    init(_ body: String) throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        let error = try #require(object["error"] as? [String: Any])
        self.message = try #require(error["message"] as? String)
        self.type = try #require(error["type"] as? String)
        self.param = error["param"] as? String
        self.code = error["code"] as? String
    }
}
