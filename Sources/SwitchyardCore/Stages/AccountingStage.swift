// SPDX-License-Identifier: Apache-2.0

import CoreMetrics
import Synchronization

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
        do {
            let reply = try await next(call)
            let model = call.peek.model ?? "unknown"
            return reply.onFinish { receipt in
                self.metrics.record(call: call, model: model, receipt: receipt)
            }
        } catch {
            // Only names the gateway serves become label values: a client must not be able to
            // create a new time series per made-up model name.
            let model = call.peek.model.flatMap { self.metrics.isServed($0) ? $0 : nil } ?? "unknown"
            self.metrics.recordFailure(
                call: call,
                model: model,
                status: GatewayError.from(error).status.code,
                latency: ContinuousClock.now - call.startedAt
            )
            throw error
        }
    }
}

/// The gateway's own metrics, created on an explicit factory so each app instance has its own registry.
///
/// Metric handles are created once per label set and reused: creating one asks the registry,
/// under its lock, for every metric of every request otherwise.
public struct GatewayMetrics: Sendable {
    private let handles: MetricHandles
    /// Whether a model name is one the gateway serves, and so a safe label value.
    let isServed: @Sendable (String) -> Bool

    /// Creates metrics on `factory`; `isServed` tells served model names from made-up ones.
    public init(factory: any MetricsFactory, isServed: @escaping @Sendable (String) -> Bool) {
        self.handles = MetricHandles(factory: factory)
        self.isServed = isServed
    }

    func record(call: Call, model: String, receipt: Receipt) {
        let route = [("model", model), ("provider", receipt.provider)]
        self.handles.counter(
            "switchyard_requests_total",
            [("endpoint", call.endpoint.rawValue)] + route + [("status", "\(receipt.status)")]
        )
        .increment()
        self.handles.timer("switchyard_request_duration_seconds", route).recordNanoseconds(receipt.latency.nanoseconds)
        if let ttft = receipt.timeToFirstToken {
            self.handles.timer("switchyard_time_to_first_token_seconds", route).recordNanoseconds(ttft.nanoseconds)
        }
        if let usage = receipt.usage {
            for (type, count) in [
                ("input", usage.inputTokens), ("cached_input", usage.cachedInputTokens), ("output", usage.outputTokens),
            ]
            where count > 0 {
                self.handles.counter("switchyard_tokens_total", route + [("type", type)]).increment(by: count)
            }
        }
        if let cost = receipt.cost, cost > 0 {
            self.handles.floatingCounter("switchyard_cost_usd_total", route).increment(by: cost)
        }
    }

    func recordFailure(call: Call, model: String, status: Int, latency: Duration) {
        let route = [("model", model), ("provider", "none")]
        self.handles.counter(
            "switchyard_requests_total",
            [("endpoint", call.endpoint.rawValue)] + route + [("status", "\(status)")]
        )
        .increment()
        self.handles.timer("switchyard_request_duration_seconds", route).recordNanoseconds(latency.nanoseconds)
    }
}

/// Metric handles by label and dimensions.
final class MetricHandles: Sendable {
    private struct Key: Hashable {
        var label: String
        var dimensions: [String]

        init(_ label: String, _ dimensions: [(String, String)]) {
            self.label = label
            self.dimensions = dimensions.flatMap { [$0.0, $0.1] }
        }
    }

    private let factory: any MetricsFactory
    private let counters = Mutex<[Key: Counter]>([:])
    private let floatingCounters = Mutex<[Key: FloatingPointCounter]>([:])
    private let timers = Mutex<[Key: Timer]>([:])

    init(factory: any MetricsFactory) { self.factory = factory }

    func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        Self.handle(in: self.counters, label, dimensions) { Counter(label: $0, dimensions: $1, factory: self.factory) }
    }

    func floatingCounter(_ label: String, _ dimensions: [(String, String)]) -> FloatingPointCounter {
        Self.handle(in: self.floatingCounters, label, dimensions) {
            FloatingPointCounter(label: $0, dimensions: $1, factory: self.factory)
        }
    }

    func timer(_ label: String, _ dimensions: [(String, String)]) -> Timer {
        Self.handle(in: self.timers, label, dimensions) { Timer(label: $0, dimensions: $1, factory: self.factory) }
    }

    /// The cached handle for `label` and `dimensions`, made on first use.
    private static func handle<Handle: Sendable>(
        in cache: borrowing Mutex<[Key: Handle]>,
        _ label: String,
        _ dimensions: [(String, String)],
        make: (String, [(String, String)]) -> Handle
    ) -> Handle {
        let key = Key(label, dimensions)
        if let handle = cache.withLock({ $0[key] }) { return handle }
        let handle = make(label, dimensions)
        cache.withLock { $0[key] = handle }
        return handle
    }
}
