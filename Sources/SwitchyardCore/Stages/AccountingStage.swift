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
            let model = self.metrics.modelLabel(call.peek.model)
            return reply.onFinish { receipt in
                self.metrics.record(call: call, model: model, receipt: receipt)
            }
        } catch {
            self.metrics.recordFailure(
                call: call,
                model: self.metrics.modelLabel(call.peek.model),
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
///
/// Every label value comes from a set fixed at start: model names the configuration and catalog
/// define (anything else is `other`), configured provider names, endpoints, and the statuses in
/// ``statusLabels`` (anything else is its class, such as `5xx`). A client cannot grow the series count.
public struct GatewayMetrics: Sendable {
    private let handles: MetricHandles
    /// Whether a model name is one the configuration or catalog defines, and so a safe label value.
    let isKnownModel: @Sendable (String) -> Bool

    /// Creates metrics on `factory`; `isKnownModel` tells defined model names from any other.
    public init(factory: any MetricsFactory, isKnownModel: @escaping @Sendable (String) -> Bool) {
        self.handles = MetricHandles(factory: factory)
        self.isKnownModel = isKnownModel
    }

    /// Statuses that are labelled by their code; others by their class.
    static let statusLabels: Set<Int> = [200, 400, 401, 403, 404, 408, 413, 429, 499, 500, 502, 503, 504]

    /// The label value for a requested model name: the name when it is a defined model, else `other`
    /// (or `unknown` when the body named none).
    func modelLabel(_ name: String?) -> String {
        guard let name else { return "unknown" }
        return self.isKnownModel(name) ? name : "other"
    }

    /// The label value for an HTTP status.
    static func statusLabel(_ status: Int) -> String {
        if Self.statusLabels.contains(status) { return String(status) }
        return (100...599).contains(status) ? "\(status / 100)xx" : "other"
    }

    func record(call: Call, model: String, receipt: Receipt) {
        let route = [("model", model), ("provider", receipt.provider)]
        self.handles.counter(
            "switchyard_requests_total",
            [("endpoint", call.endpoint.rawValue)] + route + [("status", Self.statusLabel(receipt.status))]
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

    /// Counts an answer given outside the pipeline: unknown paths, the admin API, `/v1/models`, refusals.
    public func recordOutsidePipeline(path: String, status: Int) {
        self.handles.counter("switchyard_http_responses_total", [("path", path), ("status", Self.statusLabel(status))])
            .increment()
    }

    func recordFailure(call: Call, model: String, status: Int, latency: Duration) {
        let route = [("model", model), ("provider", "none")]
        self.handles.counter(
            "switchyard_requests_total",
            [("endpoint", call.endpoint.rawValue)] + route + [("status", Self.statusLabel(status))]
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
