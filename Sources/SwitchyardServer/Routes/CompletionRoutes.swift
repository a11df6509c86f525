// SPDX-License-Identifier: Apache-2.0

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import SwitchyardCore
import SwitchyardProviders

/// `POST /v1/chat/completions`, `/v1/embeddings` and `/v1/messages`: read the body, run the pipeline,
/// send the reply; and `POST /v1/messages/count_tokens`.
struct CompletionRoutes {
    typealias Context = GatewayRequestContext

    let pipeline: Pipeline
    let limits: ServerLimits
    let models: ModelTable
    let authenticator: Authenticator

    func register(on router: Router<Context>) {
        router.post("/v1/chat/completions") { request, context in
            try await self.handle(request, context: context, endpoint: .chatCompletions)
        }
        router.post("/v1/embeddings") { request, context in
            try await self.handle(request, context: context, endpoint: .embeddings)
        }
        router.post("/v1/messages") { request, context in
            try await self.handle(request, context: context, endpoint: .messages)
        }
        router.post("/v1/messages/count_tokens") { request, context in
            do {
                return try await self.countTokens(request, requestID: context.requestID)
            } catch {
                return GatewayError.from(error).response(in: .anthropic)
            }
        }
    }

    /// Serves one call; `caller`, when given, is already authenticated (the console's playground).
    func handle(
        _ inbound: Request,
        context: Context,
        endpoint: Call.Endpoint,
        caller: Caller? = nil
    ) async throws -> Response {
        let id = context.requestID
        let api: InboundAPI = endpoint == .messages ? .anthropic : .openAI
        var body = ByteBuffer()
        var request = inbound
        // A body too large or too slow still goes through authentication, the request log and the
        // metrics, with an empty body: validation raises the rejection. So does a Messages body
        // that does not translate.
        var rejection: GatewayError?
        var reasoning = InboundReasoning()
        var clientBody: [UInt8]?
        do {
            (body, request) = try await self.collectBody(inbound)
            if api == .anthropic {
                let original = Array(body.readableBytesView)
                let translated = try AnthropicInbound.chatBody(fromMessages: original)
                body = ByteBuffer(bytes: translated.body)
                reasoning = translated.reasoning
                clientBody = original
            }
        } catch {
            rejection = GatewayError.from(error)
        }
        // The request id goes into each log call's metadata rather than onto the logger: setting logger
        // metadata copies it on every request, and a plain stream handler also re-renders it.
        var call = Call(
            id: id,
            endpoint: endpoint,
            body: Array(body.readableBytesView),
            presentedKey: Self.presentedKey(request.headers),
            logger: context.logger,
            rejection: rejection
        )
        call.inboundReasoning = reasoning
        call.headers = request.headers
        call.caller = caller
        call.clientBody = clientBody
        do {
            let reply = try await self.pipeline.run(call)
            return ReplyResponse.make(reply, call: call, channel: context.channel, api: api)
        } catch {
            return GatewayError.from(error).response(in: api)
        }
    }

    /// `{"input_tokens": N}` for a count-tokens body. When the model's first route is Anthropic's,
    /// Anthropic counts (`x-switchyard-token-count: exact`); otherwise it is an estimate at four
    /// characters per token and 1,600 per image (`estimate`), as no other tokenizer is at hand.
    private func countTokens(_ inbound: Request, requestID: String) async throws -> Response {
        let caller = try await self.authenticator.authenticate(Self.presentedKey(inbound.headers))
        let (buffer, _) = try await self.collectBody(inbound)
        let body = Array(buffer.readableBytesView)
        let estimate = try AnthropicInbound.estimateInputTokens(body)
        guard let model = self.models.resolve(estimate.model) else {
            throw GatewayError.notFound(
                "The model `\(estimate.model)` does not exist on this gateway.",
                param: "model",
                code: "model_not_found"
            )
        }
        guard caller.mayUse(model.publicName) else {
            throw GatewayError.forbidden("The key `\(caller.keyName)` may not use the model `\(estimate.model)`.")
        }
        var tokens = estimate.tokens
        var headers: HTTPFields = [.contentType: "application/json", .switchyardTokenCount: "estimate"]
        if let route = model.routes.first, let counter = route.provider as? any AnthropicTokenCounting {
            let context = UpstreamContext(requestID: requestID, timeouts: route.timeouts)
            do {
                tokens = try await counter.countTokens(anthropicBody: body, on: route, context: context)
            } catch let error as ProviderError {
                throw GatewayError(
                    status: .init(code: error.status ?? 502),
                    message: "\(route.label) could not count the tokens: \(error.message)",
                    type: "upstream_error"
                )
            }
            headers[.switchyardTokenCount] = "exact"
            headers[.switchyardProvider] = route.provider.name
        }
        return Response(
            status: .ok,
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: #"{"input_tokens":\#(tokens)}"#))
        )
    }

    /// The body, within `server.max_body_bytes` and `server.body_timeout` (enforced by ``BodyDeadlineHandler``).
    ///
    /// The returned request keeps the inbound stream, which streaming replies watch for the client closing.
    private func collectBody(_ request: Request) async throws -> (ByteBuffer, Request) {
        let limit = self.limits.maxBodyBytes
        var request = request
        do {
            let body = try await request.collectBody(upTo: limit)
            return (body, request)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw GatewayError.bodyTooLarge(limit: limit)
        } catch is NIOTooManyBytesError {
            throw GatewayError.bodyTooLarge(limit: limit)
        } catch let expired as BodyDeadlineHandler.Expired {
            throw GatewayError.bodyTimeout(expired.timeout)
        }
    }

    /// The key from `Authorization: Bearer`, or from `x-api-key` as Anthropic clients send it.
    static func presentedKey(_ headers: HTTPFields) -> String? {
        if let authorization = headers[.authorization] {
            // Compared byte-wise: `lowercased()` on every request costs more than the rest of this check.
            let scheme = authorization.utf8.prefix(7)
            if scheme.count == 7, scheme.last == UInt8(ascii: " "),
                scheme.prefix(6).elementsEqual("bearer".utf8, by: { $0 | 0x20 == $1 })
            {
                // Trimmed byte-wise too: Foundation's `trimmingCharacters(in:)` showed in profiles.
                let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
                var token = authorization.utf8.dropFirst(7)
                while let first = token.first, isBlank(first) { token = token.dropFirst() }
                while let last = token.last, isBlank(last) { token = token.dropLast() }
                return String(Substring(token))
            }
            return authorization
        }
        return headers[.xAPIKey]
    }
}
