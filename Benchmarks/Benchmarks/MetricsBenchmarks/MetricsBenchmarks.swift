// SPDX-License-Identifier: Apache-2.0

import Benchmark
import Logging
import NIOCore
import Prometheus
import SwitchyardCore
import SwitchyardServer

/// What metrics cost one call: the accounting stage around a reply, recorded into the gateway's
/// Prometheus registry exactly as `Gateway` sets it up (series already made, as after the first call).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        maxDuration: .seconds(3)
    )
    let registry = PrometheusCollectorRegistry()
    let metrics = GatewayMetrics(
        factory: PrometheusMetricsFactory.switchyard(registry: registry),
        isKnownModel: { $0 == "gpt-4o-mini" },
        genAIProvider: { _ in "openai" }
    )
    let stage = AccountingStage(metrics: metrics)
    let call = Call(
        id: "req_bench",
        endpoint: .chatCompletions,
        body: Array(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#.utf8),
        presentedKey: nil,
        logger: Logger(label: "bench")
    )
    let usage = TokenUsage(inputTokens: 120, cachedInputTokens: 0, outputTokens: 48)
    let reply = Reply(
        provider: "openai",
        model: "gpt-4o-mini",
        attempts: [Attempt(route: "openai/gpt-4o-mini", provider: "openai")],
        body: .complete(ByteBuffer(string: "{}"), usage: usage, cost: 0.0000468)
    )
    let receipt = Receipt(
        provider: "openai",
        model: "gpt-4o-mini",
        attempts: reply.attempts,
        cacheStatus: .bypass,
        status: 200,
        usage: usage,
        cost: 0.0000468,
        timeToFirstToken: nil,
        latency: .milliseconds(4),
        error: nil,
        responseBody: nil
    )

    Benchmark("Accounting stage: one call, metrics recorded") { benchmark in
        for _ in benchmark.scaledIterations {
            let answered = try await stage.handle(call) { _ in reply }
            answered.finish(receipt)
        }
    }
    Benchmark("Baseline: the same call through a stage-less closure") { benchmark in
        for _ in benchmark.scaledIterations {
            let answered = try await { (_: Call) async throws -> Reply in reply }(call)
            blackHole(answered)
        }
    }
}
