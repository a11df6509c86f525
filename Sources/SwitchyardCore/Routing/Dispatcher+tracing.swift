// SPDX-License-Identifier: Apache-2.0

import Tracing

extension Dispatcher {
    /// `attempt` with a span per call of it: a child of the request's span, whose context goes
    /// upstream as `traceparent`. The span covers the attempt up to the response head; the
    /// request's span covers the rest of a stream.
    static func traced(
        _ attempt: @escaping @Sendable (Route, UpstreamContext) async throws -> UpstreamResponse,
        trace: CallTrace,
        call: Call
    ) -> @Sendable (Route, UpstreamContext) async throws -> UpstreamResponse {
        let operation = call.endpoint.genAIOperation
        if let request = call.chat {
            trace.span.attributes["gen_ai.request.max_tokens"] = request.maxOutputTokens
            if request.choiceCount != 1 { trace.span.attributes["gen_ai.request.choice.count"] = request.choiceCount }
            trace.span.attributes["switchyard.stream"] = request.isStreaming
        }
        return { route, context in
            var context = context
            let span = trace.startAttempt(route, operation: operation, context: &context)
            do {
                let response = try await attempt(route, context)
                span.attributes["gen_ai.response.model"] = route.upstreamModel
                span.end()
                return response
            } catch let error as ProviderError {
                span.attributes["error.type"] = error.typeLabel
                if let status = error.status { span.attributes["http.response.status_code"] = status }
                span.setStatus(SpanStatus(code: .error, message: error.message))
                span.end()
                throw error
            } catch {
                // Cancelled: a hedge that lost, or a client that went away.
                span.attributes["error.type"] = "cancelled"
                span.end()
                throw error
            }
        }
    }
}
