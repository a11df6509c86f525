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

    /// Creates the services.
    public init(
        authenticator: Authenticator,
        requestLog: any RequestLogSink,
        storesBodies: Bool,
        loggedBodyLimit: Int = 64 << 10,
        metrics: GatewayMetrics,
        dispatcher: Dispatcher
    ) {
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
    /// in:  authenticate → log → account → validate → dispatch ⇢ provider
    /// out: authenticate ← log ← account ← validate ← dispatch ⇠ provider
    /// ```
    ///
    /// Logging and accounting sit just inside authentication so that, on the way out, they see
    /// the outcome of every authenticated request, malformed ones included. Fallback and retries
    /// happen inside ``Dispatcher``, so this pipeline runs exactly once per client request.
    /// Limits, cache and guardrails join between validation and dispatch as they ship.
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
            ],
            terminal: services.dispatcher.dispatch
        )
    }
}
