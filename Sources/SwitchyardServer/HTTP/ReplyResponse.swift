// SPDX-License-Identifier: Apache-2.0

import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore

/// Turns a pipeline ``Reply`` into an HTTP response with the `x-switchyard-*` headers.
///
/// Streams are written chunk by chunk as the upstream sends them. A client that goes away cancels
/// the upstream call: a failed write ends the relay, and ``ClientCloseHandler`` stops a silent
/// upstream when the connection closes. The connection stays open for the client's next request.
/// Finish hooks run with the receipt of what was sent: before the write for a complete body, after
/// the last byte for a stream.
enum ReplyResponse {
    static func make(_ reply: Reply, call: Call, channel: any Channel) -> Response {
        var headers: HTTPFields = [
            .switchyardProvider: reply.provider,
            .switchyardModel: reply.model,
            .switchyardCache: reply.cacheStatus.rawValue,
            .switchyardAttempts: "\(reply.attempts.count)",
        ]
        switch reply.body {
        case .complete(let buffer, let usage, let cost):
            let latency = ContinuousClock.now - call.startedAt
            headers[.contentType] = "application/json"
            headers[.switchyardLatency] = "\(Int(latency.milliseconds.rounded()))"
            if let cost { headers[.switchyardCost] = reply.cacheStatus == .hit ? "0" : CostFormat.plainDecimal(cost) }
            // The receipt is taken before the write: a single-buffer body goes out head and body in one
            // syscall (a closure body costs a write, and a client wakeup, per part).
            reply.finish(
                Self.receipt(reply, usage: usage, cost: cost, latency: latency, body: Array(buffer.readableBytesView))
            )
            let body = ResponseBody(byteBuffer: buffer)
            return Response(status: .ok, headers: headers, body: body)

        case .stream(let stream):
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-cache"
            headers[HTTPField.Name("x-accel-buffering")!] = "no"
            let body = ResponseBody { writer in
                let watcher = try? await channel.pipeline.handler(type: ClientCloseHandler.self).get()
                watcher?.watch { stream.cancelUpstream() }
                defer { watcher?.stopWatching() }
                do {
                    for try await chunk in stream {
                        try await writer.write(chunk)
                    }
                } catch  where watcher?.isClosed == true || error is CancellationError {
                    stream.outcome.recordFailure("the client disconnected before the stream finished")
                } catch {
                    let failure = GatewayError.from(error)
                    stream.outcome.recordFailure(failure.message)
                    try? await writer.write(ChatStream.errorEvent(failure))
                }
                // The receipt goes in before the last chunk, so a client that saw the end of its
                // stream finds the request in `GET /admin/logs`.
                let outcome = stream.outcome.values
                reply.finish(
                    Self.receipt(
                        reply,
                        usage: outcome.usage,
                        cost: outcome.cost,
                        timeToFirstToken: outcome.timeToFirstToken,
                        latency: ContinuousClock.now - call.startedAt,
                        error: outcome.error,
                        body: outcome.captured
                    )
                )
                try? await writer.finish(nil)
            }
            return Response(status: .ok, headers: headers, body: body)
        }
    }
    /// What a 200 reply delivered, for the finish hooks.
    private static func receipt(
        _ reply: Reply,
        usage: TokenUsage?,
        cost: Double?,
        timeToFirstToken: Duration? = nil,
        latency: Duration,
        error: String? = nil,
        body: [UInt8]?
    ) -> Receipt {
        Receipt(
            provider: reply.provider,
            model: reply.model,
            attempts: reply.attempts,
            cacheStatus: reply.cacheStatus,
            status: 200,
            usage: usage,
            cost: cost,
            timeToFirstToken: timeToFirstToken,
            latency: latency,
            error: error,
            responseBody: body
        )
    }
}
