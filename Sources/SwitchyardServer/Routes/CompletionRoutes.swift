// SPDX-License-Identifier: Apache-2.0

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import SwitchyardCore

/// `POST /v1/chat/completions` and `POST /v1/embeddings`: read the body, run the pipeline, send the reply.
struct CompletionRoutes {
    typealias Context = GatewayRequestContext

    let pipeline: Pipeline
    let limits: ServerLimits

    func register(on router: Router<Context>) {
        router.post("/v1/chat/completions") { request, context in
            try await self.handle(request, context: context, endpoint: .chatCompletions)
        }
        router.post("/v1/embeddings") { request, context in
            try await self.handle(request, context: context, endpoint: .embeddings)
        }
    }

    private func handle(_ inbound: Request, context: Context, endpoint: Call.Endpoint) async throws -> Response {
        let id = context.requestID
        var body = ByteBuffer()
        var request = inbound
        // A body too large or too slow still goes through authentication, the request log and the
        // metrics, with an empty body: validation raises the rejection.
        var rejection: GatewayError?
        do {
            (body, request) = try await self.collectBody(inbound)
        } catch {
            rejection = GatewayError.from(error)
        }
        // The request id goes into each log call's metadata rather than onto the logger: setting logger
        // metadata copies it on every request, and a plain stream handler also re-renders it.
        let call = Call(
            id: id,
            endpoint: endpoint,
            body: Array(body.readableBytesView),
            presentedKey: Self.presentedKey(request.headers),
            logger: context.logger,
            rejection: rejection
        )
        do {
            let reply = try await self.pipeline.run(call)
            return ReplyResponse.make(reply, call: call, channel: context.channel)
        } catch {
            return GatewayError.from(error).response()
        }
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
