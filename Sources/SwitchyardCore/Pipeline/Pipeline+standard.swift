// SPDX-License-Identifier: Apache-2.0

/// What the standard pipeline's stages need.
public struct GatewayServices: Sendable {
    /// Checks keys.
    public var authenticator: Authenticator
    /// Receives request log records.
    public var requestLog: any RequestLogSink
    /// Whether request log records carry bodies.
    public var storesBodies: Bool
    /// Longest body a request log record keeps.
    public var loggedBodyLimit: Int
    /// The gateway's metrics; `nil` when they are off.
    public var metrics: GatewayMetrics?
    /// Routes calls upstream.
    public var dispatcher: Dispatcher
    /// Budgets and rate limits, when the gateway has a store that keeps them.
    public var quotas: QuotaStage?
    /// Opens a span per request, when tracing is configured.
    public var tracing: TracingStage?
    /// Answers from the response cache, when it is on for some model.
    public var cache: CacheStage?

    /// Creates the services.
    public init(
        authenticator: Authenticator,
        requestLog: any RequestLogSink,
        storesBodies: Bool,
        loggedBodyLimit: Int = 64 << 10,
        metrics: GatewayMetrics?,
        dispatcher: Dispatcher,
        quotas: QuotaStage? = nil,
        tracing: TracingStage? = nil,
        cache: CacheStage? = nil
    ) {
        self.cache = cache
        self.quotas = quotas
        self.tracing = tracing
        self.authenticator = authenticator
        self.requestLog = requestLog
        self.storesBodies = storesBodies
        self.loggedBodyLimit = loggedBodyLimit
        self.metrics = metrics
        self.dispatcher = dispatcher
    }
}

extension Pipeline {
    /// The gateway's request path.
    ///
    /// ```
    /// in:  [trace →] authenticate → log → account → validate → quotas → cache → dispatch ⇢ provider
    /// out: [trace ←] authenticate ← log ← account ← validate ← quotas ← cache ← dispatch ⇠ provider
    /// ```
    ///
    /// Tracing, when configured, wraps everything, so a request's span covers all of it; accounting
    /// is left out when metrics are off, quotas without a store that keeps them (decision 0009), the
    /// cache when no model caches (decision 0010).
    ///
    /// Logging and accounting sit just inside authentication so that, on the way out, they see
    /// the outcome of every authenticated request, malformed ones included. Fallback and retries
    /// happen inside ``Dispatcher``, so this pipeline runs exactly once per client request.
    /// Quotas (budgets and rate limits) come after validation, which they need for their estimates,
    /// and settle on the way out. The cache comes after them, so a hit counts against rate limits but
    /// costs nothing, and before dispatch, so a hit makes no upstream call; guardrails join between
    /// the cache and dispatch when they ship.
    /// The order is a design decision: change it only with a record in `docs/decisions/`.
    public static func standard(_ services: GatewayServices) -> Pipeline {
        Pipeline(
            (services.tracing.map { [$0] } ?? []) + [
                AuthenticationStage(authenticator: services.authenticator),
                LoggingStage(
                    sink: services.requestLog,
                    storesBodies: services.storesBodies,
                    bodyLimit: services.loggedBodyLimit
                ),
            ] + (services.metrics.map { [AccountingStage(metrics: $0)] } ?? []) + [ValidationStage()]
                + (services.quotas.map { [$0] } ?? []) + (services.cache.map { [$0] } ?? []),
            terminal: services.dispatcher.dispatch
        )
    }
}
