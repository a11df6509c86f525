// SPDX-License-Identifier: Apache-2.0

import Tracing

/// Opens a span per request, a child of the client's W3C `traceparent` when it sent one, and ends
/// it when the reply finishes, with OpenTelemetry's `gen_ai.*` attributes.
///
/// It is first in the pipeline, so the span covers authentication and every attempt, and only in
/// the pipeline when tracing is configured: with tracing off no span, attribute or header is made.
public struct TracingStage: Stage {
    /// Starts the spans.
    public let tracer: any Tracer
    /// The `gen_ai.provider.name` of a configured provider.
    public let genAIProvider: @Sendable (String) -> String

    /// Creates the stage.
    public init(tracer: any Tracer, genAIProvider: @escaping @Sendable (String) -> String) {
        self.tracer = tracer
        self.genAIProvider = genAIProvider
    }

    /// Longest client-given string put in an attribute or span name.
    static let longestValue = 256

    /// Runs `next` inside the request's span.
    public func handle(_ call: Call, next: (Call) async throws -> Reply) async throws -> Reply {
        var parent = ServiceContext.topLevel
        self.tracer.extract(call.headers, into: &parent, using: HTTPFieldsExtractor())
        let operation = call.endpoint.genAIOperation
        let model = call.peek.model.map { String($0.prefix(Self.longestValue)) }
        let span = self.tracer.startSpan(
            model.map { "\(operation) \($0)" } ?? operation,
            context: parent,
            ofKind: .server
        )
        span.attributes["gen_ai.operation.name"] = operation
        span.attributes["gen_ai.request.model"] = model
        span.attributes["switchyard.request_id"] = call.id
        span.attributes["switchyard.endpoint"] = call.endpoint.rawValue
        var traced = call
        traced.trace = CallTrace(tracer: self.tracer, span: span, genAIProvider: self.genAIProvider)
        do {
            let reply = try await next(traced)
            var reasons: [String] = []
            if case .complete(let body, _, _) = reply.body {
                FinishReasons.scan(body.readableBytesView, into: &reasons)
            }
            return reply.onFinish { [reasons] receipt in
                self.finish(span, receipt: receipt, finishReasons: receipt.finishReasons + reasons)
            }
        } catch {
            let failure = GatewayError.from(error)
            span.attributes["http.response.status_code"] = Int(failure.status.code)
            span.attributes["error.type"] = failure.code ?? failure.type
            span.setStatus(SpanStatus(code: .error, message: failure.message))
            span.end()
            throw error
        }
    }

    private func finish(_ span: any Span, receipt: Receipt, finishReasons: [String]) {
        span.attributes["http.response.status_code"] = receipt.status
        span.attributes["gen_ai.provider.name"] = self.genAIProvider(receipt.provider)
        span.attributes["gen_ai.response.model"] = receipt.model
        span.attributes["switchyard.provider"] = receipt.provider
        span.attributes["switchyard.attempts"] = receipt.attempts.count
        span.attributes["switchyard.cache"] = receipt.cacheStatus.rawValue
        if let usage = receipt.usage {
            span.attributes["gen_ai.usage.input_tokens"] = usage.inputTokens
            span.attributes["gen_ai.usage.output_tokens"] = usage.outputTokens
        }
        if let cost = receipt.cost { span.attributes["switchyard.cost_usd"] = cost }
        if !finishReasons.isEmpty {
            span.attributes["gen_ai.response.finish_reasons"] = Array(finishReasons.prefix(FinishReasons.limit))
        }
        if let error = receipt.error {
            span.attributes["error.type"] = receipt.clientDisconnected ? "client_closed" : "stream_error"
            span.setStatus(SpanStatus(code: .error, message: error))
        }
        span.end()
    }
}
