// SPDX-License-Identifier: Apache-2.0

import CoreMetrics
import Synchronization

/// The gateway's own metrics, created on an explicit factory so each app instance has its own registry.
///
/// Names follow OpenTelemetry's GenAI semantic conventions where they define one
/// (`gen_ai.client.operation.duration` is exported as `gen_ai_client_operation_duration_seconds`,
/// as OpenTelemetry's Prometheus exporter names it); the rest are `switchyard_*`. docs/metrics.md
/// lists them all.
///
/// Metric handles are created once per label set and reused: creating one asks the registry,
/// under its lock, for every metric of every request otherwise.
///
/// Every label value comes from a set fixed at start: model names the configuration and catalog
/// define (anything else is `other`), configured provider names and route models, endpoints,
/// failure classes, and the statuses in ``statusLabels`` (anything else is its class, such as
/// `5xx`). A client or an upstream cannot grow the series count.
public struct GatewayMetrics: Sendable {
    /// The metric names.
    public enum Name {
        /// Counter: requests by endpoint, model, provider, status and cache result.
        public static let requests = "switchyard_requests_total"
        /// Gauge: requests the pipeline is working on, by endpoint.
        public static let inFlight = "switchyard_requests_in_flight"
        /// Histogram (seconds): the whole call as the gateway saw it, retries and fallbacks included.
        public static let operationDuration = "gen_ai_client_operation_duration_seconds"
        /// Histogram (seconds): from the request to the first streamed event.
        public static let timeToFirstToken = "gen_ai_server_time_to_first_token_seconds"
        /// Histogram (seconds): between output tokens of a stream, after the first.
        public static let timePerOutputToken = "gen_ai_server_time_per_output_token_seconds"
        /// Histogram (tokens): input and output tokens per call.
        public static let tokenUsage = "gen_ai_client_token_usage"
        /// Counter: tokens by type (`input`, `cached_input`, `output`, `reasoning`).
        public static let tokens = "switchyard_tokens_total"
        /// Counter (floating point): cost in USD.
        public static let cost = "switchyard_cost_usd_total"
        /// Counter (floating point): what cache hits saved, in USD (the cached answers' original cost).
        public static let cacheSaved = "switchyard_cache_saved_usd_total"
        /// Counter: failed upstream attempts by provider and failure class.
        public static let upstreamErrors = "switchyard_upstream_errors_total"
        /// Counter: answers given outside the pipeline, by path and status.
        public static let httpResponses = "switchyard_http_responses_total"
    }

    /// Buckets of the duration histograms (seconds) as the GenAI conventions advise, by metric name.
    public static let durationBuckets: [String: [Double]] = [
        Name.operationDuration: [
            0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
        ],
        Name.timeToFirstToken: [
            0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
        ],
        // The advised buckets start at 0.01 s (100 tokens/s); three finer ones tell fast streams apart.
        Name.timePerOutputToken: [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
        ],
    ]

    /// Buckets of the value histograms as the GenAI conventions advise, by metric name.
    public static let valueBuckets: [String: [Double]] = [
        Name.tokenUsage: [
            1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864,
        ]
    ]

    private let handles: MetricHandles
    private let inFlight: [Call.Endpoint: Meter]
    /// Whether a model name is one the configuration or catalog defines, and so a safe label value.
    let isKnownModel: @Sendable (String) -> Bool
    /// The `gen_ai.provider.name` of a configured provider.
    let genAIProvider: @Sendable (String) -> String

    /// Creates metrics on `factory`; `isKnownModel` tells defined model names from any other, and
    /// `genAIProvider` names a configured provider's type as the GenAI conventions do.
    public init(
        factory: any MetricsFactory,
        isKnownModel: @escaping @Sendable (String) -> Bool,
        genAIProvider: @escaping @Sendable (String) -> String = { $0 }
    ) {
        self.handles = MetricHandles(factory: factory)
        self.isKnownModel = isKnownModel
        self.genAIProvider = genAIProvider
        var inFlight: [Call.Endpoint: Meter] = [:]
        for endpoint in Call.Endpoint.allCases {
            inFlight[endpoint] = Meter(
                label: Name.inFlight,
                dimensions: [("endpoint", endpoint.rawValue)],
                factory: factory
            )
        }
        self.inFlight = inFlight
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

    /// Counts a request in flight until the returned mark ends (or is dropped).
    func started(_ endpoint: Call.Endpoint) -> InFlightMark {
        InFlightMark(meter: self.inFlight[endpoint])
    }

    func record(call: Call, model: String, receipt: Receipt) {
        // A stream that broke after its head answered 200 but did not complete: the client left, or the upstream broke.
        let error = receipt.error == nil ? nil : receipt.clientDisconnected ? "client_closed" : "stream_error"
        let key = ReplySeries.Key(
            endpoint: call.endpoint,
            model: model,
            provider: receipt.provider,
            responseModel: receipt.model,
            status: Self.statusLabel(receipt.status),
            cache: receipt.cacheStatus.rawValue,
            error: error
        )
        let series = self.handles.series.withLock { $0[key] } ?? self.makeSeries(key)
        series.requests.increment()
        // A cache hit made no upstream call: its time and tokens would distort the providers' histograms.
        if receipt.cacheStatus.isHit {
            if let saved = receipt.savedCost, saved > 0 {
                self.handles.floatingCounter(Name.cacheSaved, [("model", model)]).increment(by: saved)
            }
            return
        }
        series.duration.recordNanoseconds(receipt.latency.nanoseconds)
        if let ttft = receipt.timeToFirstToken {
            series.timeToFirstToken.recordNanoseconds(ttft.nanoseconds)
            if let output = receipt.usage?.outputTokens, output > 1, receipt.latency > ttft {
                series.timePerOutputToken.recordNanoseconds(((receipt.latency - ttft) / (output - 1)).nanoseconds)
            }
        }
        if let usage = receipt.usage {
            if usage.inputTokens > 0 { series.inputUsage.record(usage.inputTokens) }
            if usage.outputTokens > 0 { series.outputUsage.record(usage.outputTokens) }
            for (counter, count) in zip(
                series.tokens,
                [usage.inputTokens, usage.cachedInputTokens, usage.outputTokens, usage.reasoningTokens]
            ) where count > 0 {
                counter.increment(by: count)
            }
        }
        if let cost = receipt.cost, cost > 0 { series.cost.increment(by: cost) }
        self.recordUpstreamErrors(receipt.attempts)
    }

    /// The handles of one kind of reply, made (and registered) together on its first occurrence.
    private func makeSeries(_ key: ReplySeries.Key) -> ReplySeries {
        let genAI = [
            ("gen_ai_operation_name", key.endpoint.genAIOperation),
            ("gen_ai_provider_name", self.genAIProvider(key.provider)),
            ("gen_ai_request_model", key.model),
            ("gen_ai_response_model", key.responseModel),
            ("provider", key.provider),
        ]
        let route = [("model", key.model), ("provider", key.provider)]
        let made = ReplySeries(
            requests: self.handles.counter(
                Name.requests,
                [
                    ("endpoint", key.endpoint.rawValue), ("model", key.model), ("provider", key.provider),
                    ("status", key.status), ("cache", key.cache),
                ]
            ),
            duration: self.handles.timer(
                Name.operationDuration,
                genAI + (key.error.map { [("error_type", $0)] } ?? [])
            ),
            timeToFirstToken: self.handles.timer(Name.timeToFirstToken, genAI),
            timePerOutputToken: self.handles.timer(Name.timePerOutputToken, genAI),
            inputUsage: self.handles.recorder(Name.tokenUsage, genAI + [("gen_ai_token_type", "input")]),
            outputUsage: self.handles.recorder(Name.tokenUsage, genAI + [("gen_ai_token_type", "output")]),
            tokens: ["input", "cached_input", "output", "reasoning"].map {
                self.handles.counter(Name.tokens, route + [("type", $0)])
            },
            cost: self.handles.floatingCounter(Name.cost, route)
        )
        return self.handles.series.withLock { series in
            if let existing = series[key] { return existing }
            series[key] = made
            return made
        }
    }

    /// Counts an answer given outside the pipeline: unknown paths, the admin API, `/v1/models`, refusals.
    public func recordOutsidePipeline(path: String, status: Int) {
        self.handles.counter(Name.httpResponses, [("path", path), ("status", Self.statusLabel(status))]).increment()
    }

    func recordFailure(call: Call, model: String, status: Int, attempts: [Attempt], latency: Duration) {
        let status = Self.statusLabel(status)
        self.handles.counter(
            Name.requests,
            [
                ("endpoint", call.endpoint.rawValue), ("model", model), ("provider", "none"), ("status", status),
                ("cache", "none"),
            ]
        )
        .increment()
        self.handles.timer(
            Name.operationDuration,
            [
                ("gen_ai_operation_name", call.endpoint.genAIOperation), ("gen_ai_provider_name", "none"),
                ("gen_ai_request_model", model), ("gen_ai_response_model", "none"), ("provider", "none"),
                ("error_type", status),
            ]
        )
        .recordNanoseconds(latency.nanoseconds)
        self.recordUpstreamErrors(attempts)
    }

    private func recordUpstreamErrors(_ attempts: [Attempt]) {
        for attempt in attempts {
            guard let type = attempt.errorType else { continue }
            self.handles.counter(Name.upstreamErrors, [("provider", attempt.provider ?? "unknown"), ("type", type)])
                .increment()
        }
    }
}

extension Call.Endpoint {
    /// `gen_ai.operation.name`: what the conventions call this endpoint's operation.
    var genAIOperation: String {
        switch self {
        case .chatCompletions, .messages: "chat"
        case .embeddings: "embeddings"
        }
    }
}

/// The metric handles one kind of reply records into.
final class ReplySeries: Sendable {
    /// What tells one kind of reply from another: every label value its series carry.
    struct Key: Hashable {
        var endpoint: Call.Endpoint
        var model: String
        var provider: String
        var responseModel: String
        var status: String
        var cache: String
        var error: String?
    }

    let requests: Counter
    let duration: Timer
    let timeToFirstToken: Timer
    let timePerOutputToken: Timer
    let inputUsage: Recorder
    let outputUsage: Recorder
    /// Input, cached input, output and reasoning tokens, in that order.
    let tokens: [Counter]
    let cost: FloatingPointCounter

    init(
        requests: Counter,
        duration: Timer,
        timeToFirstToken: Timer,
        timePerOutputToken: Timer,
        inputUsage: Recorder,
        outputUsage: Recorder,
        tokens: [Counter],
        cost: FloatingPointCounter
    ) {
        self.requests = requests
        self.duration = duration
        self.timeToFirstToken = timeToFirstToken
        self.timePerOutputToken = timePerOutputToken
        self.inputUsage = inputUsage
        self.outputUsage = outputUsage
        self.tokens = tokens
        self.cost = cost
    }
}

/// One request counted in flight; ends once, by ``end()`` or when dropped, so no path leaves it counted.
final class InFlightMark: Sendable {
    private let meter: Meter?
    private let ended = Atomic<Bool>(false)

    init(meter: Meter?) {
        self.meter = meter
        meter?.increment()
    }

    /// Stops counting the request; later calls do nothing.
    func end() {
        guard !self.ended.exchange(true, ordering: .relaxed) else { return }
        self.meter?.decrement()
    }

    deinit { self.end() }
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
    private let recorders = Mutex<[Key: Recorder]>([:])
    /// Every reply's handles, looked up once per reply by one small key.
    let series = Mutex<[ReplySeries.Key: ReplySeries]>([:])

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

    /// A histogram of values (not durations).
    func recorder(_ label: String, _ dimensions: [(String, String)]) -> Recorder {
        Self.handle(in: self.recorders, label, dimensions) {
            Recorder(label: $0, dimensions: $1, aggregate: true, factory: self.factory)
        }
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
