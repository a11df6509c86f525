// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging

/// Emits the one info-level log line per request and queues its request log record.
///
/// It sits just inside authentication so that, on the way out, it sees the outcome of every
/// authenticated request, malformed ones included. Records are queued, never written here.
public struct LoggingStage: Stage {
    /// Where records go.
    public let sink: any RequestLogSink
    /// Whether bodies are stored (`request_log.bodies`).
    public let storesBodies: Bool

    /// Creates the stage.
    public init(sink: any RequestLogSink, storesBodies: Bool) {
        self.sink = sink
        self.storesBodies = storesBodies
    }

    /// Passes the call on, then logs the reply when it finishes, or the error at once.
    public func handle(_ call: Call, next: (Call) async throws -> Reply) async throws -> Reply {
        let peek = call.peek
        do {
            let reply = try await next(call)
            let isStreaming: Bool
            if case .stream = reply.body { isStreaming = true } else { isStreaming = false }
            let keepsBodies =
                self.storesBodies && !(call.caller?.zeroDataRetention ?? false) && !reply.zeroDataRetention
            return reply.onFinish { receipt in
                call.logger.info(
                    receipt.error == nil ? "request finished" : "request failed",
                    metadata: [
                        "gw.model": "\(peek.model ?? "")", "gw.provider": "\(receipt.provider)",
                        "gw.upstream_model": "\(receipt.model)", "gw.status": "\(receipt.status)",
                        "gw.tokens.input": "\(receipt.usage?.inputTokens ?? 0)",
                        "gw.tokens.output": "\(receipt.usage?.outputTokens ?? 0)",
                        "gw.attempts": "\(receipt.attempts.count)",
                        "gw.latency_ms": "\(receipt.latency.milliseconds)",
                        "gw.error": "\(receipt.error ?? "")",
                    ]
                )
                self.sink.enqueue(
                    RequestLogRecord(
                        id: call.id,
                        startedAt: call.receivedAt,
                        finishedAt: Date(),
                        keyName: call.caller?.keyName,
                        endpoint: call.endpoint.rawValue,
                        model: peek.model,
                        provider: receipt.provider,
                        upstreamModel: receipt.model,
                        status: receipt.status,
                        isStreaming: isStreaming,
                        attempts: receipt.attempts.count,
                        inputTokens: receipt.usage?.inputTokens,
                        cachedInputTokens: receipt.usage?.cachedInputTokens,
                        outputTokens: receipt.usage?.outputTokens,
                        costUSD: receipt.cost,
                        latencyMs: receipt.latency.milliseconds,
                        timeToFirstTokenMs: receipt.timeToFirstToken?.milliseconds,
                        cacheStatus: receipt.cacheStatus.rawValue,
                        error: receipt.error,
                        requestBody: keepsBodies ? String(decoding: call.body, as: UTF8.self) : nil,
                        responseBody: keepsBodies
                            ? receipt.responseBody.map { String(decoding: $0, as: UTF8.self) } : nil
                    )
                )
            }
        } catch {
            let failure = GatewayError.from(error)
            let latency = ContinuousClock.now - call.startedAt
            call.logger.info(
                "request failed",
                metadata: [
                    "gw.model": "\(peek.model ?? "")", "gw.status": "\(failure.status.code)",
                    "gw.error": "\(failure.message)",
                ]
            )
            let keepsBodies = self.storesBodies && !(call.caller?.zeroDataRetention ?? false)
            self.sink.enqueue(
                RequestLogRecord(
                    id: call.id,
                    startedAt: call.receivedAt,
                    finishedAt: Date(),
                    keyName: call.caller?.keyName,
                    endpoint: call.endpoint.rawValue,
                    model: peek.model,
                    provider: nil,
                    upstreamModel: nil,
                    status: failure.status.code,
                    isStreaming: peek.isStreaming,
                    attempts: 0,
                    inputTokens: nil,
                    cachedInputTokens: nil,
                    outputTokens: nil,
                    costUSD: nil,
                    latencyMs: latency.milliseconds,
                    timeToFirstTokenMs: nil,
                    cacheStatus: CacheStatus.bypass.rawValue,
                    error: failure.message,
                    requestBody: keepsBodies ? String(decoding: call.body, as: UTF8.self) : nil,
                    responseBody: keepsBodies ? String(decoding: failure.jsonBody, as: UTF8.self) : nil
                )
            )
            throw error
        }
    }
}

extension Duration {
    /// The duration in milliseconds, fractional.
    public var milliseconds: Double {
        let (seconds, attoseconds) = self.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
