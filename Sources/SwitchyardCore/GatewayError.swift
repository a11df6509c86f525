// SPDX-License-Identifier: Apache-2.0

import Foundation
import HTTPTypes

/// An error the gateway reports to its client in OpenAI's error shape.
///
/// Every failure a client can see is one of these, so the HTTP layer has a single way to
/// render errors: `{"error": {"message", "type", "param", "code"}}` with `status`.
public struct GatewayError: Error, Sendable, Equatable {
    /// HTTP status sent to the client.
    public var status: HTTPResponse.Status
    /// A message a person can act on.
    public var message: String
    /// OpenAI's error `type`, such as `invalid_request_error`.
    public var type: String
    /// The request field at fault, if any.
    public var param: String?
    /// A machine-readable code, such as `model_not_found`.
    public var code: String?
    /// Seconds after which the client may retry (sent as `Retry-After`).
    public var retryAfterSeconds: Int?
    /// The message with what only the operator may see (upstream addresses); logged, never rendered.
    public var logMessage: String?
    /// How the routes were chosen, when routing got that far (`x-switchyard-route-reason`).
    public var routeReason: String?
    /// The upstream attempts made before the call failed, for the log and `x-switchyard-attempts`.
    public var attempts: [Attempt] = []

    /// Creates an error with every field given.
    public init(
        status: HTTPResponse.Status,
        message: String,
        type: String,
        param: String? = nil,
        code: String? = nil,
        retryAfterSeconds: Int? = nil
    ) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// 400: the request is malformed or a parameter is invalid.
    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> GatewayError {
        GatewayError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    /// 400: the list `param` has more than `limit` entries (`noun` names what it holds, for the message).
    public static func arrayTooLong(_ param: String, count: Int, limit: Int, noun: String) -> GatewayError {
        .invalidRequest(
            "`\(param)` has \(count) \(noun); at most \(limit) are accepted.",
            param: param,
            code: "array_too_long"
        )
    }

    /// 401: the key is missing or unknown.
    public static func unauthorized(_ message: String) -> GatewayError {
        GatewayError(status: .unauthorized, message: message, type: "authentication_error", code: "invalid_api_key")
    }

    /// 403: the key may not use this model.
    public static func forbidden(_ message: String) -> GatewayError {
        GatewayError(status: .forbidden, message: message, type: "permission_error", code: "model_not_allowed")
    }

    /// 404: no such model or resource.
    public static func notFound(_ message: String, param: String? = nil, code: String? = nil) -> GatewayError {
        GatewayError(status: .notFound, message: message, type: "invalid_request_error", param: param, code: code)
    }

    /// 413: the body is over the limit.
    public static func bodyTooLarge(limit: Int) -> GatewayError {
        GatewayError(
            status: .contentTooLarge,
            message: "Request body is larger than the gateway's limit of \(limit) bytes (`server.max_body_bytes`).",
            type: "invalid_request_error",
            code: "request_too_large"
        )
    }

    /// 502: every upstream attempt failed.
    public static func upstreamFailed(_ message: String) -> GatewayError {
        GatewayError(status: .badGateway, message: message, type: "upstream_error", code: "upstream_failed")
    }

    /// 504: the upstream did not answer in time.
    public static func upstreamTimeout(_ message: String) -> GatewayError {
        GatewayError(status: .gatewayTimeout, message: message, type: "upstream_error", code: "upstream_timeout")
    }

    /// 500: a fault of the gateway itself; the message never includes internals.
    public static func internalError(_ message: String = "The gateway failed to handle this request.") -> GatewayError {
        GatewayError(status: .internalServerError, message: message, type: "server_error", code: "internal_error")
    }

    /// The error as OpenAI's JSON error body.
    public var jsonBody: [UInt8] {
        struct Envelope: Encodable {
            struct Body: Encodable {
                var message: String
                var type: String
                var param: String?
                var code: String?

                func encode(to encoder: any Encoder) throws {
                    var container = encoder.container(keyedBy: CodingKeys.self)
                    try container.encode(self.message, forKey: .message)
                    try container.encode(self.type, forKey: .type)
                    // OpenAI sends `param` and `code` as explicit nulls; SDKs read them either way.
                    try container.encode(self.param, forKey: .param)
                    try container.encode(self.code, forKey: .code)
                }

                enum CodingKeys: String, CodingKey { case message, type, param, code }
            }
            var error: Body
        }
        let envelope = Envelope(
            error: .init(message: self.message, type: self.type, param: self.param, code: self.code)
        )
        return (try? Array(JSONDecoderFactory.encoder.encode(envelope)))
            ?? Array(#"{"error":{"message":"error"}}"#.utf8)
    }
}

extension GatewayError {
    /// The error a client sees for `error`: gateway errors as they are, cancellation as 499, anything else as 500.
    public static func from(_ error: any Error) -> GatewayError {
        if let error = error as? GatewayError { return error }
        if error is CancellationError {
            return GatewayError(
                status: .init(code: 499, reasonPhrase: "Client Closed Request"),
                message: "The client closed the request.",
                type: "invalid_request_error",
                code: "client_closed_request"
            )
        }
        if let error = error as? ProviderError {
            return error.kind == .timeout ? .upstreamTimeout(error.description) : .upstreamFailed(error.description)
        }
        return .internalError()
    }
}
