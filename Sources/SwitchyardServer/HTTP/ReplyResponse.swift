// SPDX-License-Identifier: Apache-2.0

import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore
import SwitchyardProviders

/// The API a client called, which decides the shape of its answers and errors.
enum InboundAPI: Sendable {
    /// OpenAI's Chat Completions and Embeddings: the pipeline's own shape, sent as it is.
    case openAI
    /// Anthropic's Messages API: answers, events and errors translated from OpenAI's.
    case anthropic
}

/// Turns a pipeline ``Reply`` into an HTTP response with the `x-switchyard-*` headers.
///
/// Streams are written chunk by chunk as the upstream sends them. A client that goes away cancels
/// the upstream call: a failed write ends the relay, and ``ClientCloseHandler`` stops a silent
/// upstream when the connection closes. The connection stays open for the client's next request.
/// Finish hooks run with the receipt of what was sent: before the write for a complete body, after
/// the last byte for a stream. For `/v1/messages` the body, the events and a failure mid-stream are
/// written in Anthropic's shape; the receipt keeps the OpenAI form the pipeline produced.
enum ReplyResponse {
    static func make(_ reply: Reply, call: Call, channel: any Channel, api: InboundAPI = .openAI) -> Response {
        var headers: HTTPFields = [
            .switchyardProvider: reply.provider,
            .switchyardModel: reply.model,
            .switchyardCache: reply.cacheStatus.rawValue,
            .switchyardAttempts: "\(reply.attempts.count)",
        ]
        if let reason = reply.routeReason { headers[.switchyardRouteReason] = reason }
        switch reply.body {
        case .complete(var buffer, let usage, let cost):
            let latency = ContinuousClock.now - call.startedAt
            let sent = Array(buffer.readableBytesView)
            if api == .anthropic {
                do {
                    buffer = ByteBuffer(bytes: try AnthropicInbound.messagesBody(fromChatCompletion: sent))
                } catch {
                    let failure = GatewayError.from(error)
                    reply.finish(
                        Self.receipt(
                            reply,
                            usage: usage,
                            cost: cost,
                            latency: latency,
                            error: failure.message,
                            body: sent
                        )
                    )
                    return failure.response(in: api)
                }
            }
            headers[.contentType] = "application/json"
            headers[.switchyardLatency] = "\(Int(latency.milliseconds.rounded()))"
            if let cost { headers[.switchyardCost] = CostFormat.plainDecimal(cost) }
            // The receipt is taken before the write: a single-buffer body goes out head and body in one
            // syscall (a closure body costs a write, and a client wakeup, per part).
            reply.finish(Self.receipt(reply, usage: usage, cost: cost, latency: latency, body: sent))
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
                var events = api == .anthropic ? AnthropicEventWriter(model: reply.model) : nil
                var clientDisconnected = false
                do {
                    for try await chunk in stream {
                        if events == nil {
                            try await writer.write(chunk)
                        } else if let translated = try events?.translate(chunk), translated.readableBytes > 0 {
                            try await writer.write(translated)
                        }
                    }
                } catch  where watcher?.isClosed == true || error is CancellationError {
                    stream.outcome.recordFailure("the client disconnected before the stream finished")
                    clientDisconnected = true
                } catch {
                    let failure = GatewayError.from(error)
                    stream.outcome.recordFailure(failure.message)
                    let event =
                        events == nil
                        ? ChatStream.errorEvent(failure)
                        : AnthropicInbound.errorEvent(status: Int(failure.status.code), message: failure.message)
                    try? await writer.write(event)
                }
                // The receipt goes in before the last chunk, so a client that saw the end of its
                // stream finds the request in `GET /admin/logs`.
                let outcome = stream.outcome.values
                var receipt = Self.receipt(
                    reply,
                    usage: outcome.usage,
                    cost: outcome.cost,
                    timeToFirstToken: outcome.timeToFirstToken,
                    latency: ContinuousClock.now - call.startedAt,
                    error: outcome.error,
                    body: outcome.captured
                )
                receipt.clientDisconnected = clientDisconnected
                receipt.finishReasons = outcome.finishReasons
                reply.finish(receipt)
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
        var receipt = Receipt(
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
            responseBody: body,
            routeReason: reply.routeReason
        )
        receipt.savedCost = reply.savedCost
        return receipt
    }
}
