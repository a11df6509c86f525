// SPDX-License-Identifier: Apache-2.0

import Foundation
import Hummingbird
import Prometheus
import SwitchyardCore

/// `GET /health`, `GET /ready`, `GET /metrics` and the admin API's `GET /admin/logs`, `GET /admin/stats`
/// and `GET /admin/shadow`.
struct OperationsRoutes<Context: RequestContext> {
    let store: any RequestLogStore
    let statistics: RouteStatistics
    let shadowTraffic: ShadowTraffic?
    let registry: PrometheusCollectorRegistry
    let authenticator: Authenticator
    let requestLog: RequestLogWriter
    /// Whether `/metrics` needs the master key (`server.metrics_auth`).
    let metricsNeedKey: Bool
    /// Whether metrics are on (`server.metrics`).
    let servesMetrics: Bool

    func register(on router: Router<Context>) {
        router.get("/health") { _, _ in
            Self.json(#"{"status":"ok"}"#)
        }
        router.get("/ready") { _, _ in
            do {
                try await self.store.checkReachable()
                guard self.requestLog.isHealthy else {
                    return GatewayError(
                        status: .serviceUnavailable,
                        message: "The request log has not been writable for `request_log.unready_after`.",
                        type: "server_error",
                        code: "request_log_unwritable"
                    ).response()
                }
                return Self.json(#"{"status":"ready"}"#)
            } catch {
                return GatewayError(
                    status: .serviceUnavailable,
                    message: "The store is not reachable.",
                    type: "server_error",
                    code: "store_unreachable"
                ).response()
            }
        }
        router.get("/metrics") { request, _ in
            guard self.servesMetrics else {
                throw GatewayError.notFound("metrics are off on this gateway (`server.metrics: false`)")
            }
            if self.metricsNeedKey { try await self.requireReader(request) }
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: self.registry.emitToBuffer()))
            )
        }
        router.get("/admin/logs") { request, _ in
            try await self.requireReader(request)
            let query = try Self.logQuery(request.uri.queryParameters)
            // Rows still queued in memory belong in the answer: a caller checking its own request expects it there.
            await self.requestLog.flush()
            let records = try await self.store.records(matching: query)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            let body = try encoder.encode(LogList(data: records))
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: body))
            )
        }
        router.get("/admin/shadow") { request, _ in
            try await self.requireReader(request)
            let parameters = request.uri.queryParameters
            let limit =
                try parameters["limit"].map { text -> Int in
                    guard let value = Int(String(text)), (1...1000).contains(value) else {
                        throw GatewayError.invalidRequest("`limit` must be an integer from 1 to 1000.", param: "limit")
                    }
                    return value
                } ?? 100
            let model = parameters["model"].map(String.init)
            let list = ShadowList(
                skipped: self.shadowTraffic?.skipped ?? 0,
                data: self.shadowTraffic?.records(model: model, limit: limit) ?? []
            )
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(list)))
            )
        }
        router.get("/admin/stats") { request, _ in
            try await self.requireReader(request)
            // Samples of calls that just ended belong in the answer, as queued log rows do in /admin/logs.
            self.statistics.refresh()
            let list = StatsList(droppedSamples: self.statistics.droppedSamples, data: self.statistics.summaries())
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: try JSONDecoderFactory.encoder.encode(list)))
            )
        }
    }

    private struct ShadowList: Encodable {
        var object = "list"
        var skipped: Int
        var data: [ShadowRecord]
    }

    private struct StatsList: Encodable {
        var object = "list"
        var windows = RouteStatistics.windows.map(\.name)
        var droppedSamples: Int
        var data: [RouteSummary]

        enum CodingKeys: String, CodingKey {
            case object, windows, data
            case droppedSamples = "dropped_samples"
        }
    }

    private struct LogList: Encodable {
        var object = "list"
        var data: [RequestLogRecord]
    }

    /// The admin API's read endpoints take the master key, an admin key or a viewer key.
    private func requireReader(_ request: Request) async throws {
        _ = try await self.authenticator.authenticateAdmin(
            CompletionRoutes.presentedKey(request.headers),
            writes: false
        )
    }

    static func logQuery(_ parameters: Parameters) throws -> RequestLogQuery {
        var query = RequestLogQuery()
        query.model = parameters.get("model")
        query.keyName = parameters.get("key")
        if let limit = parameters.get("limit") {
            guard let value = Int(limit), (1...1000).contains(value) else {
                throw GatewayError.invalidRequest("`limit` must be an integer from 1 to 1000.", param: "limit")
            }
            query.limit = value
        }
        query.since = try Self.time(parameters, "since")
        return query
    }

    /// The time in the query parameter `name`: ISO 8601 or Unix seconds.
    static func time(_ parameters: Parameters, _ name: String) throws -> Date? {
        guard let text = parameters.get(name) else { return nil }
        // Finite and within this era: `Date` would accept anything, and the store converts it to an integer.
        if let seconds = Double(text), (0...1e11).contains(seconds) { return Date(timeIntervalSince1970: seconds) }
        if let date = ISO8601DateFormatter().date(from: text) { return date }
        throw GatewayError.invalidRequest(
            "`\(name)` must be an ISO 8601 time (2026-01-31T12:00:00Z) or Unix seconds.",
            param: name
        )
    }

    private static func json(_ text: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }
}
