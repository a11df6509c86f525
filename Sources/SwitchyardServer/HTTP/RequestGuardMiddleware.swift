// SPDX-License-Identifier: Apache-2.0

import HTTPTypes
import Hummingbird
import SwitchyardCore

/// The outermost middleware: gives every request its id, refuses what ``BrowserGuard`` refuses,
/// answers CORS preflights, and counts answers that never reach the pipeline.
///
/// Every response leaves with `x-switchyard-request-id`, whatever produced it (a route, the error
/// middleware, a 404 for an unknown path, or this guard).
struct RequestGuardMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let browserGuard: BrowserGuard
    let metrics: GatewayMetrics?

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let id = RequestID.make()
        context.requestID = id
        let origin = request.headers[.origin]
        let corsOrigin = origin.flatMap { self.browserGuard.allows($0) ? $0 : nil }

        var response: Response
        let path = Self.pathLabel(request.uri.path)
        if let refusal = self.browserGuard.refusal(host: request.head.authority, origin: origin) {
            response = refusal.response()
            self.metrics?.recordOutsidePipeline(path: path, status: refusal.status.code)
        } else if request.method == .options, let corsOrigin {
            response = Self.preflight(request, origin: corsOrigin)
        } else {
            response = try await next(request, context)
            // The pipeline counts the completion endpoints' answers, except the 401s its outermost stage throws.
            let isCompletion = request.method == .post && (path == "/v1/chat/completions" || path == "/v1/embeddings")
            if !isCompletion || response.status == .unauthorized {
                self.metrics?.recordOutsidePipeline(path: path, status: response.status.code)
            }
        }
        response.headers[.switchyardRequestID] = id
        if let corsOrigin {
            response.headers[.accessControlAllowOrigin] = corsOrigin
            response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
            response.headers[.vary] = "Origin"
        }
        return response
    }

    /// The answer to a CORS preflight from an allowed origin.
    private static func preflight(_ request: Request, origin: String) -> Response {
        var headers: HTTPFields = [
            .accessControlAllowMethods: "GET, POST, OPTIONS",
            .accessControlMaxAge: "600",
        ]
        // Echo the headers the page wants to send (bounded): SDKs add their own `x-stainless-*` set.
        if let asked = request.headers[.accessControlRequestHeaders], asked.utf8.count <= 2048 {
            headers[.accessControlAllowHeaders] = asked
        }
        return Response(status: .noContent, headers: headers)
    }

    private static let exposedHeaders =
        "x-switchyard-request-id, x-switchyard-provider, x-switchyard-model, x-switchyard-latency-ms, "
        + "x-switchyard-cost-usd, x-switchyard-cache, x-switchyard-attempts"

    /// A fixed label for the path, so no client can add series: each served path, else `other`.
    static func pathLabel(_ path: String) -> String {
        switch path {
        case "/v1/chat/completions", "/v1/embeddings", "/v1/models", "/health", "/ready", "/metrics", "/admin/logs",
            "/", "/playground", "/playground/chat", "/logs", "/logs/export", "/spend", "/keys", "/login", "/logout":
            return path
        default:
            if path.hasPrefix("/v1/models/") { return "/v1/models/{id}" }
            if path.hasPrefix("/models/") { return "/models/{id}" }
            if path.hasPrefix("/logs/") { return "/logs/{id}" }
            if path.hasPrefix("/keys/") { return "/keys/{id}" }
            if path.hasPrefix("/console/") { return "/console/{asset}" }
            return "other"
        }
    }
}
