// SPDX-License-Identifier: Apache-2.0

/// Counts requests in flight and, when each ends, its latency, tokens, cost and upstream errors.
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
        let inFlight = self.metrics.started(call.endpoint)
        do {
            let reply = try await next(call)
            let model = self.metrics.modelLabel(call.peek.model)
            return reply.onFinish { receipt in
                inFlight.end()
                self.metrics.record(call: call, model: model, receipt: receipt)
            }
        } catch {
            inFlight.end()
            let failure = GatewayError.from(error)
            self.metrics.recordFailure(
                call: call,
                model: self.metrics.modelLabel(call.peek.model),
                status: failure.status.code,
                attempts: failure.attempts,
                latency: ContinuousClock.now - call.startedAt
            )
            throw error
        }
    }
}
