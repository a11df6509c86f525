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
    /// Longest body stored (`request_log.max_body_bytes`); longer ones are cut with a marker.
    public let bodyLimit: Int

    /// Creates the stage.
    public init(sink: any RequestLogSink, storesBodies: Bool, bodyLimit: Int = 64 << 10) {
        self.sink = sink
        self.storesBodies = storesBodies
        self.bodyLimit = bodyLimit
    }

    /// Passes the call on, then logs the reply when it finishes, or the error at once.
    public func handle(_ call: Call, next: (Call) async throws -> Reply) async throws -> Reply {
        let keepsBodies = self.storesBodies && !(call.caller?.zeroDataRetention ?? false)
        do {
            let reply = try await next(call)
            let isStreaming: Bool
            if case .stream = reply.body { isStreaming = true } else { isStreaming = false }
            return reply.onFinish { receipt in
                self.record(
                    call,
                    receipt,
                    isStreaming: isStreaming,
                    keepsBodies: keepsBodies && !reply.zeroDataRetention
                )
            }
        } catch {
            let failure = GatewayError.from(error)
            let receipt = Receipt(
                provider: "",
                model: "",
                attempts: failure.attempts,
                cacheStatus: .bypass,
                status: failure.status.code,
                usage: nil,
                cost: nil,
                timeToFirstToken: nil,
                latency: ContinuousClock.now - call.startedAt,
                error: failure.logMessage ?? failure.message,
                responseBody: failure.jsonBody,
                routeReason: failure.routeReason
            )
            self.record(call, receipt, isStreaming: call.peek.isStreaming, keepsBodies: keepsBodies)
            throw error
        }
    }

    /// Emits the request's info line and queues its request log row.
    private func record(_ call: Call, _ receipt: Receipt, isStreaming: Bool, keepsBodies: Bool) {
        call.logger.info(
            receipt.error == nil ? "request finished" : "request failed",
            metadata: [
                "gw.request_id": "\(call.id)", "gw.model": "\(call.peek.model ?? "")",
                "gw.provider": "\(receipt.provider)",
                "gw.upstream_model": "\(receipt.model)", "gw.status": "\(receipt.status)",
                "gw.tokens.input": "\(receipt.usage?.inputTokens ?? 0)",
                "gw.tokens.output": "\(receipt.usage?.outputTokens ?? 0)",
                "gw.attempts": "\(receipt.attempts.count)",
                "gw.latency_ms": "\(receipt.latency.milliseconds)",
                "gw.error": "\(receipt.error ?? "")",
            ]
        )
        var record = RequestLogRecord(
            id: call.id,
            startedAt: call.receivedAt,
            finishedAt: Date(),
            keyName: call.caller?.keyName,
            endpoint: call.endpoint.rawValue,
            model: call.peek.model,
            provider: receipt.provider.isEmpty ? nil : receipt.provider,
            upstreamModel: receipt.model.isEmpty ? nil : receipt.model,
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
            requestBody: keepsBodies ? Self.loggedBody(call.clientBody ?? call.body, limit: self.bodyLimit) : nil,
            responseBody: keepsBodies
                ? receipt.responseBody.map { Self.loggedBody($0, limit: self.bodyLimit) } : nil
        )
        record.routeReason = receipt.routeReason
        record.keyID = call.caller?.keyID
        record.team = call.caller?.team
        record.credential = receipt.attempts.last(where: { $0.failure == nil })?.credential
        record.savedUSD = receipt.savedCost
        self.sink.enqueue(record)
    }

    /// `body` as text, cut at `limit` bytes with a marker saying how long it was.
    static func loggedBody(_ body: [UInt8], limit: Int) -> String {
        guard body.count > limit else { return String(decoding: body, as: UTF8.self) }
        return String(decoding: body.prefix(limit), as: UTF8.self) + "…[truncated: \(body.count) bytes in all]"
    }
}
