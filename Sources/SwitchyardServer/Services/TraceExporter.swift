// SPDX-License-Identifier: Apache-2.0

import Logging
import OTel
import ServiceLifecycle
import SwitchyardCore
import Synchronization
import Tracing

/// Builds the OTLP/HTTP span exporter (swift-otel) from the `tracing` section.
enum TraceExporter {
    /// Every exporter made, kept until the process exits. swift-otel's exporter shuts its HTTP
    /// client down synchronously when deallocated, which traps on an event loop thread, and the
    /// gateway's tasks run on event loops; the exporter has shut down (flushed) by then anyway.
    private static let retained = Mutex<[any Sendable]>([])

    /// The tracer and the service that exports its spans, or `nil` when tracing is off (no
    /// endpoint configured, or `OTEL_SDK_DISABLED=true`).
    static func make(
        _ configuration: TracingConfiguration,
        environment: [String: String],
        logger: Logger
    ) throws -> (tracer: any Tracer, service: any Service)? {
        guard configuration.isEnabled(environment: environment),
            environment["OTEL_SDK_DISABLED"]?.lowercased() != "true"
        else { return nil }
        var otel = OTel.Configuration.default
        otel.serviceName = configuration.serviceName
        otel.logs.enabled = false
        otel.metrics.enabled = false
        otel.diagnosticLogger = .custom(logger)
        if let endpoint = configuration.endpoint { otel.traces.otlpExporter.endpoint = endpoint }
        otel.traces.otlpExporter.protocol = configuration.usesJSON ? .httpJSON : .httpProtobuf
        otel.traces.otlpExporter.headers = configuration.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        // A collector that does not answer must not hold shutdown for long.
        otel.traces.otlpExporter.timeout = .seconds(3)
        otel.traces.batchSpanProcessor.exportTimeout = .seconds(3)
        otel.traces.batchSpanProcessor.scheduleDelay = .seconds(1)
        otel.traces.sampler =
            configuration.sampleRatio >= 1
            ? .parentBasedAlwaysOn
            : (.parentBasedTraceIDRatio(ratio: configuration.sampleRatio) ?? .parentBasedAlwaysOn)
        let backend = try OTel.makeTracingBackend(configuration: otel)
        Self.retained.withLock { $0.append((backend.factory, backend.service)) }
        return (backend.factory, backend.service)
    }
}
