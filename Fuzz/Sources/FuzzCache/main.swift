// SPDX-License-Identifier: Apache-2.0

import Foundation

@testable import SwitchyardCore

/// Feeds arbitrary bytes to the response cache's readers: the request normaliser behind cache keys
/// (client bytes), the prompt signature of a last user turn (client text), the assembly of a streamed
/// answer into a completion and the replay of a stored completion (upstream bytes), and the reader of
/// an embeddings answer's vector (upstream bytes).
///
/// Properties: a key depends on meaning only (the same body keys the same twice; the context key
/// exists exactly when a prompt does); a signature agrees with itself; an assembled answer replays
/// and assembles again into the same completion; no vector longer than the index accepts is read.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))

    if let key = CacheFingerprint(body: bytes, endpoint: .chatCompletions, namespace: "team:a") {
        let again = CacheFingerprint(body: bytes, endpoint: .chatCompletions, namespace: "team:a")
        precondition(again == key, "a body keyed twice gave two keys")
        precondition((key.context == nil) == (key.prompt == nil), "a context key without its prompt")
        precondition(
            CacheFingerprint(body: bytes, endpoint: .chatCompletions, namespace: "team:b")?.exact != key.exact,
            "two namespaces share a key"
        )
    }

    let text = String(decoding: bytes, as: UTF8.self)
    let signature = PromptSignature(text)
    precondition(signature.agrees(with: signature), "a signature disagrees with itself")
    precondition(signature.units.count <= text.count && signature.numbers.count <= text.count)

    if let assembled = AnswerReplay.assemble(events: bytes, usage: TokenUsage(inputTokens: 1, outputTokens: 2)) {
        guard let replay = AnswerReplay.events(completion: assembled) else {
            preconditionFailure("an assembled answer does not replay")
        }
        let replayed = AnswerReplay.assemble(
            events: Array(replay.readableBytesView),
            usage: TokenUsage(inputTokens: 1, outputTokens: 2)
        )
        let decoder = JSONDecoder()
        precondition(
            replayed.flatMap { try? decoder.decode(OpenAIChat.Response.self, from: Data($0)) }
                == (try? decoder.decode(OpenAIChat.Response.self, from: Data(assembled))),
            "a replayed answer assembles into another completion"
        )
    }
    _ = AnswerReplay.events(completion: bytes)

    if let vector = Dispatcher.firstEmbedding(bytes) {
        precondition(!vector.isEmpty && vector.count <= SemanticIndex.maxDimensions, "a vector out of bounds")
        let index = SemanticIndex(capacity: 4)
        if index.insert(
            key: "k",
            context: "c",
            vector: vector,
            signature: signature,
            expiresAt: .distantFuture,
            namespace: "n",
            model: "m"
        ) {
            let match = index.nearest(context: "c", vector: vector, signature: signature, threshold: 0.9)
            precondition(match?.key == "k", "a vector does not find itself")
        }
    }
    return 0
}
