// SPDX-License-Identifier: Apache-2.0

import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// The OpenAI-compatible proxy path over real HTTP on loopback: headers, cost, request rewriting.
@Suite(.timeLimit(.minutes(1)))
struct ProxyTests {
    static let priced = Pricing(input: 1.0, cachedInput: 0.5, output: 2.0)

    static func models(_ routes: [RouteConfiguration]) -> [String: ModelConfiguration] {
        ["m": ModelConfiguration(routes: routes)]
    }

    @Test("Proxies a chat completion, rewriting only the model, with per-call headers and cost")
    func proxiesNonStreaming() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            models: Self.models([.init(provider: "up", model: "ok", pricing: Self.priced)])
        ) { _, port in
            let response = try await TestGateway.send(
                port: port,
                body: TestGateway.chatBody(model: "m", extra: #","temperature":0.3"#),
                headers: [("authorization", "Bearer client-key-must-not-leak")]
            )
            #expect(response.status == 200)
            #expect(response.headers["x-switchyard-provider"] == "up")
            #expect(response.headers["x-switchyard-model"] == "ok")
            #expect(response.headers["x-switchyard-attempts"] == "1")
            #expect(response.headers["x-switchyard-cache"] == "bypass")
            #expect(response.headers["x-switchyard-request-id"]?.hasPrefix("req_") == true)
            #expect(Int(response.headers["x-switchyard-latency-ms"] ?? "") != nil)
            // 6 uncached input at $1, 4 cached at $0.50, 20 output at $2 per 1M tokens.
            #expect(response.headers["x-switchyard-cost-usd"] == "0.000048")
            let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
            let usage = try #require(body["usage"] as? [String: Any])
            #expect((usage["cost"] as? Double).map { abs($0 - 0.000048) < 1e-12 } == true)
            #expect(usage["prompt_tokens"] as? Int == 10)

            let calls = upstream.calls
            #expect(calls.count == 1)
            #expect(calls.first?.model == "ok")
            #expect(calls.first?.authorization == "Bearer sk-upstream-secret")
            #expect(calls.first?.body["temperature"] as? String == "0.3")
        }
    }

    @Test("Streams chunk by chunk: the first event arrives while the upstream still holds the rest")
    func streamsWithoutBuffering() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            models: Self.models([.init(provider: "up", model: "gated-stream")])
        ) { _, port in
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
            request.method = .POST
            request.body = .bytes(ByteBuffer(string: TestGateway.chatBody(model: "m", stream: true)))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "content-type") == "text/event-stream")
            var iterator = response.body.makeAsyncIterator()
            var received = ""
            while !received.contains("\n\n"), let chunk = try await iterator.next() {
                received += String(buffer: chunk)
            }
            #expect(received.contains(#""content":"Hel""#))
            #expect(!received.contains("[DONE]"))
            upstream.openGate()
            while let chunk = try await iterator.next() { received += String(buffer: chunk) }
            #expect(received.hasSuffix("data: [DONE]\n\n"))
            // The gateway asked for usage itself and, since the client did not, removed it again.
            #expect(upstream.calls.first?.body["stream_options"] != nil)
            #expect(!received.contains(#""usage":{"#))
            #expect(!received.contains(#""usage""#) || received.contains(#""usage":null"#))
        }
    }

    @Test("A client that asks for usage gets it in the last chunk with the cost")
    func streamsUsageWithCost() async throws {
        try await TestGateway.run(configure: { port in
            TestGateway.configuration(
                upstreamPort: port,
                models: Self.models([.init(provider: "up", model: "ok", pricing: Self.priced)])
            )
        }) { gateway, port in
            let response = try await TestGateway.send(
                port: port,
                body: TestGateway.chatBody(
                    model: "m",
                    stream: true,
                    extra: #","stream_options":{"include_usage":true}"#
                )
            )
            let events = response.body.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(events.last == "data: [DONE]")
            let usageEvent = try #require(events.dropLast().last)
            #expect(usageEvent.contains(#""cost":0.000048"#))
            #expect(usageEvent.contains(#""choices":[]"#))

            await gateway.requestLog.flush()
            let rows = try await gateway.store.records(matching: .init())
            #expect(rows.first?.outputTokens == 20)
            #expect(rows.first?.cachedInputTokens == 4)
            #expect(rows.first.map { abs(($0.costUSD ?? 0) - 0.000048) < 1e-12 } == true)
            #expect(rows.first?.isStreaming == true)
            #expect(rows.first?.timeToFirstTokenMs != nil)
        }
    }

    @Test("A null `stream_options` is replaced, not a failure")
    func replacesNullStreamOptions() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            configure: { port in
                TestGateway.configuration(upstreamPort: port, models: Self.models([.init(provider: "up", model: "ok")]))
            }
        ) { _, port in
            let response = try await TestGateway.send(
                port: port,
                body: TestGateway.chatBody(model: "m", stream: true, extra: #","stream_options":null"#)
            )
            #expect(response.status == 200)
            #expect(response.body.hasSuffix("data: [DONE]\n\n"))
            #expect(upstream.calls.first?.rawBody.contains(#""stream_options":{"include_usage":true}"#) == true)
        }
    }

    @Test("A client that disconnects mid-stream cancels the upstream call")
    func disconnectCancelsUpstream() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            models: Self.models([.init(provider: "up", model: "hang-stream")])
        ) { _, port in
            let (firstChunk, firstChunkSeen) = AsyncStream<Void>.makeStream()
            let started = await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
                    request.method = .POST
                    request.body = .bytes(ByteBuffer(string: TestGateway.chatBody(model: "m", stream: true)))
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                    for try await _ in response.body { firstChunkSeen.yield() }
                }
                // Hang up once the stream is flowing: cancelling the reader closes its connection.
                var chunks = firstChunk.makeAsyncIterator()
                _ = await chunks.next()
                group.cancelAll()
                return ContinuousClock.now
            }
            var iterator = upstream.cancellations.makeAsyncIterator()
            _ = await iterator.next()
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test("Embeddings are proxied with the upstream model and priced")
    func proxiesEmbeddings() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            configure: { port in
                var configuration = TestGateway.configuration(upstreamPort: port, models: [:])
                configuration.models["emb"] = ModelConfiguration(routes: [
                    .init(provider: "up", model: "embed", pricing: Pricing(input: 0.02, output: 0))
                ])
                return configuration
            }
        ) { _, port in
            let response = try await TestGateway.send(
                port: port,
                path: "/v1/embeddings",
                body: #"{"model":"emb","input":"hi"}"#
            )
            #expect(response.status == 200)
            #expect(response.body.contains(#""embedding":[0.6,0.8]"#))
            #expect(response.headers["x-switchyard-cost-usd"] == "0.00000006")
            #expect(upstream.calls.map(\.path) == ["/v1/embeddings"])
        }
    }

    @Test("`provider/model` pins a configured provider without a models entry")
    func pinsProvider() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            configure: { port in
                TestGateway.configuration(upstreamPort: port, models: [:])
            }
        ) { _, port in
            let response = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "up/ok"))
            #expect(response.status == 200)
            #expect(response.headers["x-switchyard-model"] == "ok")
            #expect(upstream.calledModels == ["ok"])
        }
    }
}
