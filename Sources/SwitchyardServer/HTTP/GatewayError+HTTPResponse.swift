// SPDX-License-Identifier: Apache-2.0

import HTTPTypes
import Hummingbird
import SwitchyardCore
import SwitchyardProviders

extension GatewayError {
    /// The error as an HTTP response in the error shape of the API called (OpenAI's by default).
    /// (`RequestGuardMiddleware` adds `x-switchyard-request-id` to every response.)
    func response(in api: InboundAPI = .openAI) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let seconds = self.retryAfterSeconds { headers[.retryAfter] = "\(seconds)" }
        if let reason = self.routeReason { headers[.switchyardRouteReason] = reason }
        if !self.attempts.isEmpty { headers[.switchyardAttempts] = "\(self.attempts.count)" }
        let body =
            switch api {
            case .openAI: self.jsonBody
            case .anthropic: AnthropicInbound.errorBody(status: Int(self.status.code), message: self.message)
            }
        return Response(status: self.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The gateway error for an error Hummingbird raised before our handlers ran.
    static func from(httpError: HTTPError, maxBodyBytes: Int) -> GatewayError {
        switch httpError.status {
        case .contentTooLarge: .bodyTooLarge(limit: maxBodyBytes)
        case .notFound:
            .notFound("No such endpoint. The gateway serves /v1/chat/completions, /v1/embeddings and /v1/models.")
        case .methodNotAllowed:
            GatewayError(
                status: .methodNotAllowed,
                message: "This endpoint does not accept this HTTP method.",
                type: "invalid_request_error",
                code: "method_not_allowed"
            )
        default:
            GatewayError(
                status: httpError.status,
                message: httpError.body ?? httpError.status.reasonPhrase,
                type: httpError.status.code < 500 ? "invalid_request_error" : "server_error"
            )
        }
    }
}

extension HTTPField.Name {
    static let switchyardRequestID = Self("x-switchyard-request-id")!
    static let switchyardProvider = Self("x-switchyard-provider")!
    static let switchyardModel = Self("x-switchyard-model")!
    static let switchyardLatency = Self("x-switchyard-latency-ms")!
    static let switchyardCost = Self("x-switchyard-cost-usd")!
    static let switchyardCache = Self("x-switchyard-cache")!
    static let switchyardAttempts = Self("x-switchyard-attempts")!
    static let switchyardTokenCount = Self("x-switchyard-token-count")!
    static let switchyardRouteReason = Self("x-switchyard-route-reason")!
    static let xAPIKey = Self("x-api-key")!
}

/// Renders every error that escapes a handler in OpenAI's error shape, never as HTML or a stack trace.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBodyBytes: Int

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as GatewayError {
            return error.response()
        } catch let error as HTTPError {
            return GatewayError.from(httpError: error, maxBodyBytes: self.maxBodyBytes).response()
        } catch {
            context.logger.error("unhandled error", metadata: ["gw.error": "\(String(reflecting: type(of: error)))"])
            return GatewayError.internalError().response()
        }
    }
}
