// SPDX-License-Identifier: Apache-2.0

import HTTPTypes
import Tracing

/// A traced call's request span and what its upstream attempts need to start their own.
///
/// ``TracingStage`` sets it on the ``Call``; without tracing it is `nil` and nothing else runs.
public struct CallTrace: Sendable {
    /// Starts the spans.
    public let tracer: any Tracer
    /// The call's span (kind server), ended when the reply finishes.
    public let span: any Span
    /// The `gen_ai.provider.name` of a configured provider.
    public let genAIProvider: @Sendable (String) -> String

    /// Starts a span (kind client) for one upstream attempt on `route`; its context goes upstream
    /// as `traceparent` through `context.traceHeaders`.
    func startAttempt(_ route: Route, operation: String, context: inout UpstreamContext) -> any Span {
        let span = self.tracer.startSpan(
            "\(operation) \(route.upstreamModel)",
            context: self.span.context,
            ofKind: .client
        )
        span.attributes["gen_ai.operation.name"] = operation
        span.attributes["gen_ai.provider.name"] = self.genAIProvider(route.provider.name)
        span.attributes["gen_ai.request.model"] = route.upstreamModel
        span.attributes["switchyard.route"] = route.label
        span.attributes["switchyard.credential"] = context.credential
        var headers: [(String, String)] = []
        self.tracer.inject(span.context, into: &headers, using: HeaderListInjector())
        context.traceHeaders = headers
        return span
    }
}

/// Reads W3C trace headers (`traceparent`, `tracestate`) from a request; values over 512 bytes are
/// ignored, as the trace-context spec allows.
public struct HTTPFieldsExtractor: Extractor {
    /// Creates the extractor.
    public init() {}

    /// The value of header `key`, if present and short enough.
    public func extract(key: String, from carrier: HTTPFields) -> String? {
        guard let name = HTTPField.Name(key), let value = carrier[name], value.utf8.count <= 512 else { return nil }
        return value
    }
}

/// Writes trace headers into a list of header pairs, replacing any of the same name.
public struct HeaderListInjector: Injector {
    /// Creates the injector.
    public init() {}

    /// Sets header `key` to `value`.
    public func inject(_ value: String, forKey key: String, into carrier: inout [(String, String)]) {
        carrier.removeAll { $0.0.lowercased() == key.lowercased() }
        carrier.append((key, value))
    }
}
