// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Trace export over OTLP/HTTP; off unless an endpoint is configured.
///
/// - Configuration keys (all optional):
///   - `endpoint` (URL): where spans are posted, such as `http://127.0.0.1:4318/v1/traces` (the
///     path is used as given). Without it, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
///     `OTEL_EXPORTER_OTLP_ENDPOINT` in the environment turn tracing on.
///   - `service_name` (string, default `switchyard`): the `service.name` resource attribute.
///   - `sample_ratio` (number 0…1, default 1): the share of new traces kept; a client's sampled
///     `traceparent` is always followed.
///   - `protocol` (`http/protobuf`, the default, or `http/json`).
///   - `headers` (map): sent with each export, such as a hosted collector's API key.
///
/// `OTEL_*` environment variables override these, as OpenTelemetry SDKs do.
public struct TracingConfiguration: Sendable, Decodable, Equatable {
    /// Where spans go; tracing is off when `nil` (and the environment names none).
    public var endpoint: String?
    /// `service.name`.
    public var serviceName = "switchyard"
    /// Share of new traces kept.
    public var sampleRatio = 1.0
    /// Whether to export JSON instead of protobuf.
    public var usesJSON = false
    /// Extra export headers.
    public var headers: [String: String] = [:]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case endpoint, headers
        case serviceName = "service_name"
        case sampleRatio = "sample_ratio"
        case wireProtocol = "protocol"
    }

    /// Tracing off.
    public init() {}

    /// Decodes the section, checking the URL, the ratio and the protocol.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let endpoint = try c.decodeIfPresent(String.self, forKey: .endpoint), !endpoint.isEmpty {
            guard endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://"), URL(string: endpoint)?.host != nil
            else {
                throw ConfigurationError(
                    "`tracing.endpoint` must be an http or https URL such as http://127.0.0.1:4318/v1/traces; "
                        + "got `\(endpoint.prefix(200))`"
                )
            }
            self.endpoint = endpoint
        }
        if let name = try c.decodeIfPresent(String.self, forKey: .serviceName) {
            guard !name.isEmpty, name.utf8.count <= 256 else {
                throw ConfigurationError("`tracing.service_name` must be 1 to 256 bytes")
            }
            self.serviceName = name
        }
        if let ratio = try c.decodeIfPresent(Double.self, forKey: .sampleRatio) {
            guard (0...1).contains(ratio) else {
                throw ConfigurationError("`tracing.sample_ratio` must be between 0 and 1; got \(ratio)")
            }
            self.sampleRatio = ratio
        }
        switch try c.decodeIfPresent(String.self, forKey: .wireProtocol) ?? "http/protobuf" {
        case "http/protobuf": self.usesJSON = false
        case "http/json": self.usesJSON = true
        case let other:
            throw ConfigurationError(
                "`tracing.protocol` is `\(other.prefix(100))`; use `http/protobuf` or `http/json` (OTLP over gRPC is not built in)"
            )
        }
        self.headers = try c.decodeIfPresent([String: String].self, forKey: .headers) ?? [:]
    }

    /// Whether spans are exported: an endpoint is configured or named by the environment.
    public func isEnabled(environment: [String: String]) -> Bool {
        self.endpoint != nil
            || ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"].contains {
                !(environment[$0] ?? "").isEmpty
            }
    }
}
