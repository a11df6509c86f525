// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore

/// OpenAI's embeddings answer, for providers that compute vectors another way.
enum EmbeddingsAnswer {
    /// `{"object": "list", "data": [...], "model", "usage"}` with each vector as numbers, or as
    /// base64 of little-endian float32 when the client asked for `encoding_format: base64`.
    static func json(vectors: [[Double]], model: String, encodingFormat: String, promptTokens: Int) -> [UInt8] {
        let data: [[String: Any]] = vectors.enumerated().map { index, vector in
            let embedding: Any =
                encodingFormat == "base64"
                ? vector.map { Float($0) }.withUnsafeBufferPointer { Data(buffer: $0).base64EncodedString() }
                : vector
            return ["object": "embedding", "index": index, "embedding": embedding]
        }
        let object: [String: Any] = [
            "object": "list", "data": data, "model": model,
            "usage": ["prompt_tokens": promptTokens, "total_tokens": promptTokens],
        ]
        return (try? Array(JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))) ?? Array("{}".utf8)
    }
}
