// SPDX-License-Identifier: Apache-2.0

import InMemoryTracing
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing
import Tracing

@Suite("Tracing")
struct TracingTests {
    private static let models: [String: ModelConfiguration] = [
        "m": ModelConfiguration(routes: [.init(provider: "up", model: "ok")]),
        "fallback": ModelConfiguration(
            routes: [.init(provider: "up", model: "server-error"), .init(provider: "up", model: "ok")]
        ),
    ]

    private static func attribute(_ span: FinishedInMemorySpan, _ key: String) -> SpanAttribute? {
        span.attributes.get(key)
    }

    /// Runs a gateway serving ``models`` whose spans go to `tracer`, with `body` given its port.
    private static func traced(
        _ tracer: InMemoryTracer,
        upstream: FakeOpenAIUpstream = FakeOpenAIUpstream(),
        _ body: @escaping @Sendable (Int) async throws -> Void
    ) async throws {
        try await TestGateway.run(
            upstream: upstream,
            tracer: tracer,
            configure: { TestGateway.configuration(upstreamPort: $0, models: Self.models) }
        ) { _, port in try await body(port) }
    }

    @Test("A call makes a server span, child of the client's trace, and a client span per attempt sent upstream")
    func spansOfACall() async throws {
        let tracer = InMemoryTracer()
        let upstream = FakeOpenAIUpstream()
        try await Self.traced(tracer, upstream: upstream) { port in
            let answer = try await TestGateway.send(
                port: port,
                body: TestGateway.chatBody(model: "m", extra: #","max_tokens":50"#),
                headers: [(InMemoryTracer.traceIDKey, "trace-client"), (InMemoryTracer.spanIDKey, "span-client")]
            )
            #expect(answer.status == 200)
        }
        let spans = tracer.finishedSpans
        let server = try #require(spans.first { $0.kind == .server })
        let attempt = try #require(spans.first { $0.kind == .client })
        #expect(spans.count == 2)
        #expect(server.operationName == "chat m")
        #expect(server.traceID == "trace-client" && server.parentSpanID == "span-client")
        #expect(attempt.traceID == "trace-client" && attempt.parentSpanID == server.spanID)
        #expect(attempt.operationName == "chat ok")

        #expect(Self.attribute(server, "gen_ai.operation.name") == .string("chat"))
        #expect(Self.attribute(server, "gen_ai.request.model") == .string("m"))
        #expect(Self.attribute(server, "gen_ai.request.max_tokens") == .int64(50))
        #expect(Self.attribute(server, "gen_ai.provider.name") == .string("openai"))
        #expect(Self.attribute(server, "gen_ai.response.model") == .string("ok"))
        #expect(Self.attribute(server, "gen_ai.usage.input_tokens") == .int64(10))
        #expect(Self.attribute(server, "gen_ai.usage.output_tokens") == .int64(20))
        #expect(Self.attribute(server, "gen_ai.response.finish_reasons") == .stringArray(["stop"]))
        #expect(Self.attribute(server, "http.response.status_code") == .int64(200))
        #expect(server.status == nil)
        #expect(Self.attribute(attempt, "gen_ai.provider.name") == .string("openai"))
        #expect(Self.attribute(attempt, "switchyard.route") == .string("up/ok"))

        // The attempt's context went upstream (InMemoryTracer writes its own header names; OTel's is traceparent).
        let call = try #require(upstream.calls.first)
        #expect(call.headers[InMemoryTracer.traceIDKey] == "trace-client")
        #expect(call.headers[InMemoryTracer.spanIDKey] == attempt.spanID)
    }

    @Test("A failed attempt's span carries the failure class; a stream's span its finish reasons")
    func failuresAndStreams() async throws {
        let tracer = InMemoryTracer()
        try await Self.traced(tracer) { port in
            let answer = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "fallback"))
            #expect(answer.status == 200)
            let streamed = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "m", stream: true))
            #expect(streamed.status == 200 && streamed.body.contains("[DONE]"))
        }
        let spans = tracer.finishedSpans
        let servers = spans.filter { $0.kind == .server }
        #expect(servers.count == 2)
        let attempts = spans.filter { $0.kind == .client }
        // fallback: server-error twice (one retry), then ok; the stream: one attempt.
        #expect(attempts.count == 4)
        let failed = attempts.filter { Self.attribute($0, "error.type") == .string("server_error") }
        #expect(failed.count == 2)
        #expect(
            failed.allSatisfy {
                $0.status?.code == .error && Self.attribute($0, "http.response.status_code") == .int64(500)
            }
        )
        let stream = try #require(servers.first { Self.attribute($0, "switchyard.stream") == .bool(true) })
        #expect(Self.attribute(stream, "gen_ai.response.finish_reasons") == .stringArray(["stop"]))
        #expect(Self.attribute(stream, "gen_ai.usage.output_tokens") == .int64(20))
    }

    @Test("A refused call ends its span with the error")
    func refusedCall() async throws {
        let tracer = InMemoryTracer()
        try await Self.traced(tracer) { port in
            let answer = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "nope"))
            #expect(answer.status == 404)
        }
        let span = try #require(tracer.finishedSpans.first)
        #expect(tracer.finishedSpans.count == 1 && span.kind == .server)
        #expect(span.status?.code == .error)
        #expect(Self.attribute(span, "http.response.status_code") == .int64(404))
        #expect(Self.attribute(span, "error.type") == .string("model_not_found"))
    }

    @Test("Finish reasons are read from bodies and events, bounded, and malformed values are skipped")
    func finishReasons() {
        var reasons: [String] = []
        FinishReasons.scan(
            Array(#"{"choices":[{"finish_reason":"stop"},{"finish_reason" : "length"},{"finish_reason":null}]}"#.utf8),
            into: &reasons
        )
        #expect(reasons == ["stop", "length"])
        FinishReasons.scan(Array(#"{"finish_reason":"stop","x":{"finish_reason":"tool_calls"}}"#.utf8), into: &reasons)
        #expect(reasons == ["stop", "length", "tool_calls"])
        var odd: [String] = []
        let long = String(repeating: "a", count: 65)
        FinishReasons.scan(
            Array(#"{"finish_reason":"St0p","finish_reason":"\#(long)","finish_reason":"","finish_reason":"#.utf8),
            into: &odd
        )
        #expect(odd.isEmpty)
        var many: [String] = []
        let body = (0..<20).map { #"{"finish_reason":"r\#(String(repeating: "x", count: $0))"}"# }.joined()
        FinishReasons.scan(Array(body.utf8), into: &many)
        #expect(many.count == FinishReasons.limit)
    }
}
