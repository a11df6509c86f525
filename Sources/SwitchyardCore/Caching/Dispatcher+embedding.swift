// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging
import NIOCore

extension Dispatcher {
    /// Embeds one text with `model` through its routes (fallback, retries and statistics included),
    /// for the semantic cache. The call is the gateway's own: it is not logged or billed to a caller.
    public func embedder(model: String, logger: Logger) -> ResponseCache.Embedder {
        { text in
            let body = Array(
                try JSONDecoderFactory.encoder.encode(["model": model, "input": text, "encoding_format": "float"])
            )
            var call = Call(id: RequestID.make(), endpoint: .embeddings, body: body, presentedKey: nil, logger: logger)
            call.embeddings = try EmbeddingsRequest(body: body)
            let reply = try await self.dispatch(call)
            guard case .complete(let buffer, let usage, let cost) = reply.body else {
                throw ProviderError(kind: .invalidResponse, message: "the embeddings answer is not JSON")
            }
            // The routes' statistics and leases settle with the receipt.
            reply.finish(
                Receipt(
                    provider: reply.provider,
                    model: reply.model,
                    attempts: reply.attempts,
                    cacheStatus: .bypass,
                    status: 200,
                    usage: usage,
                    cost: cost,
                    timeToFirstToken: nil,
                    latency: ContinuousClock.now - call.startedAt,
                    error: nil,
                    responseBody: nil
                )
            )
            guard let vector = Self.firstEmbedding(Array(buffer.readableBytesView)) else {
                throw ProviderError(kind: .invalidResponse, message: "the embeddings answer holds no vector")
            }
            return vector
        }
    }

    /// `data[0].embedding` of an OpenAI embeddings answer: numbers, or base64 of little-endian floats.
    static func firstEmbedding(_ body: [UInt8]) -> [Float]? {
        guard case .array(let data)? = JSONValue.parse(body)?.object?["data"],
            let embedding = data.first?.object?["embedding"]
        else { return nil }
        switch embedding {
        case .array(let numbers):
            guard !numbers.isEmpty, numbers.count <= SemanticIndex.maxDimensions else { return nil }
            var vector: [Float] = []
            vector.reserveCapacity(numbers.count)
            for number in numbers {
                guard let value = number.double else { return nil }
                vector.append(Float(value))
            }
            return vector
        case .string(let encoded):
            guard let data = Data(base64Encoded: encoded) else { return nil }
            return CachedAnswer.vector(fromBytes: Array(data))
        default:
            return nil
        }
    }
}
