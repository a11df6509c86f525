// SPDX-License-Identifier: Apache-2.0

import Logging
import MetricsTestKit
import NIOCore
import Testing

@testable import SwitchyardCore

@Suite("Gateway metrics")
struct MetricsTests {
    private static let genAI = [
        ("gen_ai_operation_name", "chat"), ("gen_ai_provider_name", "gcp.gemini"),
        ("gen_ai_request_model", "m"), ("gen_ai_response_model", "upstream-m"), ("provider", "p"),
    ]

    private static func metrics(_ factory: TestMetrics) -> GatewayMetrics {
        GatewayMetrics(factory: factory, isKnownModel: { $0 == "m" }, genAIProvider: { $0 == "p" ? "gcp.gemini" : "?" })
    }

    private static func receipt(attempts: [Attempt], error: String? = nil) -> Receipt {
        Receipt(
            provider: "p",
            model: "upstream-m",
            attempts: attempts,
            cacheStatus: .miss,
            status: 200,
            usage: TokenUsage(inputTokens: 1000, cachedInputTokens: 600, outputTokens: 11, reasoningTokens: 4),
            cost: 3,
            timeToFirstToken: .milliseconds(200),
            latency: .milliseconds(1200),
            error: error,
            responseBody: nil
        )
    }

    @Test("A streamed call records the GenAI histograms, token counters, cost, upstream errors and in-flight count")
    func streamedCall() async throws {
        let factory = TestMetrics()
        let stage = AccountingStage(metrics: Self.metrics(factory))
        let reply = try await stage.handle(StageTests.call(#"{"model":"m","stream":true}"#)) { _ in
            StageTests.reply()
        }
        let inFlight = try factory.expectMeter("switchyard_requests_in_flight", [("endpoint", "chat.completions")])
        #expect(inFlight.lastValue == 1)

        let failed = Attempt(route: "p/x", provider: "p", failure: "HTTP 429", errorType: "rate_limited")
        let lost = Attempt(route: "q/x", provider: "q", failure: "cancelled", errorType: "cancelled")
        reply.finish(Self.receipt(attempts: [failed, lost, Attempt(route: "p/upstream-m", provider: "p")]))
        #expect(inFlight.lastValue == 0)

        let requests = try factory.expectCounter(
            "switchyard_requests_total",
            [
                ("endpoint", "chat.completions"), ("model", "m"), ("provider", "p"), ("status", "200"),
                ("cache", "miss"),
            ]
        )
        #expect(requests.totalValue == 1)
        let duration = try factory.expectTimer("gen_ai_client_operation_duration_seconds", Self.genAI)
        #expect(duration.values == [1_200_000_000])
        let ttft = try factory.expectTimer("gen_ai_server_time_to_first_token_seconds", Self.genAI)
        #expect(ttft.values == [200_000_000])
        // One second for the ten tokens after the first.
        let perToken = try factory.expectTimer("gen_ai_server_time_per_output_token_seconds", Self.genAI)
        #expect(perToken.values == [100_000_000])
        let input = try factory.expectRecorder(
            "gen_ai_client_token_usage",
            Self.genAI + [("gen_ai_token_type", "input")]
        )
        let output = try factory.expectRecorder(
            "gen_ai_client_token_usage",
            Self.genAI + [("gen_ai_token_type", "output")]
        )
        #expect(input.values == [1000] && output.values == [11])
        for (type, count) in [("input", 1000), ("cached_input", 600), ("output", 11), ("reasoning", 4)] {
            let tokens = try factory.expectCounter(
                "switchyard_tokens_total",
                [("model", "m"), ("provider", "p"), ("type", type)]
            )
            #expect(tokens.totalValue == Int64(count), "\(type)")
        }
        // swift-metrics' test factory keeps floating-point counters as whole units.
        let cost = try factory.expectCounter("switchyard_cost_usd_total", [("model", "m"), ("provider", "p")])
        #expect(cost.totalValue == 3)
        let limited = try factory.expectCounter(
            "switchyard_upstream_errors_total",
            [("provider", "p"), ("type", "rate_limited")]
        )
        let cancelled = try factory.expectCounter(
            "switchyard_upstream_errors_total",
            [("provider", "q"), ("type", "cancelled")]
        )
        #expect(limited.totalValue == 1 && cancelled.totalValue == 1)
        // The attempt that answered is not an error.
        #expect(factory.counters.filter { $0.label == "switchyard_upstream_errors_total" }.count == 2)
    }

    @Test("A stream that breaks after its head records the duration with error_type stream_error")
    func brokenStream() async throws {
        let factory = TestMetrics()
        let stage = AccountingStage(metrics: Self.metrics(factory))
        let reply = try await stage.handle(StageTests.call(#"{"model":"m"}"#)) { _ in StageTests.reply() }
        reply.finish(Self.receipt(attempts: [], error: "upstream closed the stream"))
        let duration = try factory.expectTimer(
            "gen_ai_client_operation_duration_seconds",
            Self.genAI + [("error_type", "stream_error")]
        )
        #expect(duration.values.count == 1)
    }

    @Test("A failed call records its status as error_type, the upstream failures, and leaves nothing in flight")
    func failure() async throws {
        let factory = TestMetrics()
        let stage = AccountingStage(metrics: Self.metrics(factory))
        var failure = GatewayError(status: .badGateway, message: "every route failed", type: "upstream_error")
        failure.attempts = [
            Attempt(route: "p/a", provider: "p", failure: "HTTP 500", errorType: "server_error"),
            Attempt(route: "p/a", provider: "p", failure: "HTTP 500", errorType: "server_error"),
            Attempt(route: "r/b", provider: "r", failure: "timed out", errorType: "timeout"),
        ]
        await #expect(throws: GatewayError.self) {
            _ = try await stage.handle(StageTests.call(#"{"model":"unlisted"}"#)) { [failure] _ in throw failure }
        }
        let duration = try factory.expectTimer(
            "gen_ai_client_operation_duration_seconds",
            [
                ("gen_ai_operation_name", "chat"), ("gen_ai_provider_name", "none"), ("gen_ai_request_model", "other"),
                ("gen_ai_response_model", "none"), ("provider", "none"), ("error_type", "502"),
            ]
        )
        #expect(duration.values.count == 1)
        let server = try factory.expectCounter(
            "switchyard_upstream_errors_total",
            [("provider", "p"), ("type", "server_error")]
        )
        #expect(server.totalValue == 2)
        #expect(
            try factory.expectCounter("switchyard_upstream_errors_total", [("provider", "r"), ("type", "timeout")])
                .totalValue == 1
        )
        let inFlight = try factory.expectMeter("switchyard_requests_in_flight", [("endpoint", "chat.completions")])
        #expect(inFlight.values == [1, 0])
        #expect(!factory.counters.contains { $0.dimensions.contains { $0.1 == "unlisted" } })
    }

    @Test("An in-flight mark dropped without end() still ends, and ends once")
    func inFlightMark() throws {
        let factory = TestMetrics()
        let metrics = Self.metrics(factory)
        do {
            let mark = metrics.started(.embeddings)
            mark.end()
            mark.end()
            _ = metrics.started(.embeddings)
        }
        let meter = try factory.expectMeter("switchyard_requests_in_flight", [("endpoint", "embeddings")])
        #expect(meter.values == [1, 0, 1, 0])
    }

    @Test("Failure classes have fixed, distinct labels")
    func typeLabels() {
        let kinds: [ProviderError.Kind] = [
            .rateLimited, .server, .timeout, .connection, .invalidResponse, .rejected, .invalidRequest, .overloaded,
            .unsupported,
        ]
        let labels = kinds.map { ProviderError(kind: $0, message: "").typeLabel }
        #expect(Set(labels).count == kinds.count)
        #expect(labels.allSatisfy { $0.allSatisfy { $0.isLowercase || $0 == "_" } })
    }
}
