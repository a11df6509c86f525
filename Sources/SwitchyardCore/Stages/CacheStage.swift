// SPDX-License-Identifier: Apache-2.0

import Foundation
import HTTPTypes

/// Answers a call from the response cache when it can, and queues the upstream's answer to be cached
/// when it cannot (decision 0010).
///
/// It sits after quotas, so a hit still counts against rate limits but costs nothing against a
/// budget, and before dispatch, so a hit makes no upstream call. Per request, the
/// `x-switchyard-cache` header says `no-cache` (neither read nor write), `no-store` (read, never
/// write) or `refresh` (do not read, replace the stored answer). Callers with zero data retention
/// are never cached: a cached answer is a stored body.
public struct CacheStage: Stage {
    /// The cache.
    public let cache: ResponseCache

    /// Creates the stage.
    public init(cache: ResponseCache) {
        self.cache = cache
    }

    /// The per-request control.
    enum Control: String {
        case noCache = "no-cache"
        case noStore = "no-store"
        case refresh
    }

    /// The request header that controls the cache.
    public static let header = HTTPField.Name("x-switchyard-cache")!

    /// Serves a hit, or passes the call on and queues a cacheable answer.
    public func handle(_ call: Call, next: (Call) async throws -> Reply) async throws -> Reply {
        guard let model = call.requestedModel else { return try await next(call) }
        let policy = self.cache.policy(for: model)
        guard policy.mode != .off else { return try await next(call) }
        let control = try Self.control(call.headers)
        guard control != .noCache, !(call.caller?.zeroDataRetention ?? false) else { return try await next(call) }
        let namespace = self.cache.namespace(for: call.caller)
        let endpoint: Call.Endpoint = call.endpoint == .messages ? .chatCompletions : call.endpoint
        guard
            let fingerprint = CacheFingerprint(
                body: call.body,
                endpoint: endpoint,
                namespace: namespace,
                beside: call.inboundReasoning,
                embeddingModel: self.cache.configuration.semantic?.embeddingModel ?? ""
            )
        else {
            return try await next(call)
        }
        let semantic =
            policy.mode == .semantic && endpoint == .chatCompletions ? self.cache.semanticPrompt(fingerprint) : nil
        var vector: [Float]?
        if control != .refresh {
            if let answer = await self.cache.answer(key: fingerprint.exact),
                let reply = self.cache.reply(answer, status: .hit, call: call)
            {
                return reply
            }
            if let semantic, let embedded = await self.cache.embed(semantic.prompt) {
                vector = embedded
                if let (answer, similarity) = await self.cache.nearest(
                    context: semantic.context,
                    prompt: semantic.prompt,
                    vector: embedded,
                    namespace: namespace
                ), let reply = self.cache.reply(answer, status: .semanticHit, call: call, similarity: similarity) {
                    return reply
                }
            }
        }

        var reply = try await next(call)
        // A route with zero data retention answered: nothing of it is kept, as if the cache were off.
        reply.cacheStatus = control == .refresh || reply.zeroDataRetention ? .bypass : .miss
        // An answer of a `fallbacks` model is not the asked model's answer: it is served, not kept.
        guard control != .noStore, !reply.zeroDataRetention, !reply.fromFallbackModel else { return reply }
        var streamed: ChatStream.Outcome?
        if case .stream(let relay) = reply.body {
            // The whole stream is needed to assemble the answer, not just the start the log keeps.
            relay.outcome.captureAtLeast(self.cache.configuration.maxEntryBytes + 1)
            streamed = relay.outcome
        }
        let outcome = streamed
        let cache = self.cache
        let embedded = vector
        let limit = cache.configuration.maxEntryBytes
        let ttl = Double(policy.ttl.components.seconds)
        return reply.onFinish { receipt in
            // Only a whole answer is stored: never a failed, broken, abandoned or cut-off one.
            guard receipt.status == 200, receipt.error == nil, !receipt.clientDisconnected,
                let body = receipt.responseBody, body.count <= limit,
                // A stream whose first event came before the capture grew is not whole: not kept.
                outcome?.values.captureCut != true
            else { return }
            cache.enqueue(
                PendingAnswer(
                    key: fingerprint.exact,
                    namespace: namespace,
                    model: model,
                    provider: receipt.provider,
                    upstreamModel: receipt.model,
                    body: body,
                    isStream: outcome != nil,
                    usage: receipt.usage,
                    cost: receipt.cost,
                    ttl: ttl,
                    context: semantic?.context,
                    prompt: semantic?.prompt,
                    vector: embedded
                )
            )
        }
    }

    /// The request's control, or a 400 naming the header for a value it does not know.
    static func control(_ headers: HTTPFields) throws -> Control? {
        guard let value = headers[Self.header] else { return nil }
        guard let control = Control(rawValue: value.trimmingCharacters(in: .whitespaces).lowercased()) else {
            throw GatewayError.invalidRequest(
                "`x-switchyard-cache` must be no-cache, no-store or refresh; got `\(value.prefix(100))`.",
                param: "x-switchyard-cache"
            )
        }
        return control
    }
}
