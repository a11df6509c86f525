// SPDX-License-Identifier: Apache-2.0

import CoreMetrics

/// Counts requests, latency, tokens and cost per model, route and status.
///
/// Like logging it records when the reply finishes, so a stream's usage (in its last chunk)
/// is counted, and records failures too. It only touches in-memory metrics.
public struct AccountingStage: Stage {
    /// Where metrics go.
    public let metrics: GatewayMetrics

    /// Creates the stage.
    public init(metrics: GatewayMetrics) { self.metrics = metrics }

    /// Passes the call on and records the outcome.
    public func handle(_ call: Call, next: (Call) async throws -> Reply) async throws -> Reply {
        let model = call.peek.model ?? "unknown"
        do {
            let reply = try await next(call)
            return reply.onFinish { receipt in
                self.metrics.record(call: call, model: model, receipt: receipt)
            }
        } catch {
            self.metrics.recordFailure(
                call: call, model: model, status: GatewayError.from(error).status.code,
                latency: ContinuousClock.now - call.startedAt
            )
            throw error
        }
    }
}

/// The gateway's own metrics, created on an explicit factory so each app instance has its own registry.
public struct GatewayMetrics: Sendable {
    private let factory: any MetricsFactory

    /// Creates metrics on `factory`.
    public init(factory: any MetricsFactory) { self.factory = factory }

    func record(call: Call, model: String, receipt: Receipt) {
        let route = [("model", model), ("provider", receipt.provider)]
        Counter(
            label: "switchyard_requests_total",
            dimensions: [("endpoint", call.endpoint.rawValue)] + route + [("status", "\(receipt.status)")],
            factory: self.factory
        ).increment()
        Timer(label: "switchyard_request_duration_seconds", dimensions: route, factory: self.factory)
            .recordNanoseconds(receipt.latency.nanoseconds)
        if let ttft = receipt.timeToFirstToken {
            Timer(label: "switchyard_time_to_first_token_seconds", dimensions: route, factory: self.factory)
                .recordNanoseconds(ttft.nanoseconds)
        }
        if let usage = receipt.usage {
            for (type, count) in [("input", usage.inputTokens), ("cached_input", usage.cachedInputTokens), ("output", usage.outputTokens)]
            where count > 0 {
                Counter(label: "switchyard_tokens_total", dimensions: route + [("type", type)], factory: self.factory)
                    .increment(by: count)
            }
        }
        if let cost = receipt.cost, cost > 0 {
            FloatingPointCounter(label: "switchyard_cost_usd_total", dimensions: route, factory: self.factory)
                .increment(by: cost)
        }
    }

    func recordFailure(call: Call, model: String, status: Int, latency: Duration) {
        Counter(
            label: "switchyard_requests_total",
            dimensions: [("endpoint", call.endpoint.rawValue), ("model", model), ("provider", "none"), ("status", "\(status)")],
            factory: self.factory
        ).increment()
        Timer(label: "switchyard_request_duration_seconds", dimensions: [("model", model), ("provider", "none")], factory: self.factory)
            .recordNanoseconds(latency.nanoseconds)
    }
}

extension Duration {
    /// Whole nanoseconds, as swift-metrics timers take them.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
