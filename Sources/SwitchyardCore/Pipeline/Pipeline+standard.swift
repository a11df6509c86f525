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
    /// The gateway's metrics.
    public var metrics: GatewayMetrics
    /// Routes calls upstream.
    public var dispatcher: Dispatcher
    /// Budgets and rate limits, when the gateway has a store that keeps them.
    public var quotas: QuotaStage?

    /// Creates the services.
    public init(
        authenticator: Authenticator,
        requestLog: any RequestLogSink,
        storesBodies: Bool,
        loggedBodyLimit: Int = 64 << 10,
        metrics: GatewayMetrics,
        dispatcher: Dispatcher,
        quotas: QuotaStage? = nil
    ) {
        self.quotas = quotas
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
    /// in:  authenticate → log → account → validate → quotas → dispatch ⇢ provider
    /// out: authenticate ← log ← account ← validate ← quotas ← dispatch ⇠ provider
    /// ```
    ///
    /// Logging and accounting sit just inside authentication so that, on the way out, they see
    /// the outcome of every authenticated request, malformed ones included. Fallback and retries
    /// happen inside ``Dispatcher``, so this pipeline runs exactly once per client request.
    /// Quotas (budgets and rate limits) come after validation, which they need for their estimates,
    /// and settle on the way out; cache and guardrails join between them and dispatch as they ship.
    /// The order is a design decision: change it only with a record in `docs/decisions/`.
    public static func standard(_ services: GatewayServices) -> Pipeline {
        Pipeline(
            [
                AuthenticationStage(authenticator: services.authenticator),
                LoggingStage(
                    sink: services.requestLog,
                    storesBodies: services.storesBodies,
                    bodyLimit: services.loggedBodyLimit
                ),
                AccountingStage(metrics: services.metrics),
                ValidationStage(),
            ] + (services.quotas.map { [$0] } ?? []),
            terminal: services.dispatcher.dispatch
        )
    }
}
