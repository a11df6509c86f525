// SPDX-License-Identifier: Apache-2.0

import Benchmark
import Foundation
import Logging
import SwitchyardCore

/// What the response cache costs a call: an exact hit through the cache stage (key, lookup, reply),
/// and a semantic lookup in an index of 100,000 entries of one context (the embedding call excluded).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        maxDuration: .seconds(3)
    )

    // MARK: Exact hit

    let body =
        Array(
            #"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},"#
                .utf8
        )
        + Array(
            #"{"role":"user","content":"Write one sentence about the sea."}],"temperature":0.7,"max_tokens":64,"user":"bench"}"#
                .utf8
        )
    let answer = Array(
        #"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"The sea is wide and full of stories."},"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":9,"total_tokens":33}}"#
            .utf8
    )
    let store = MemoryResponseCache(maxBytes: 64 << 20)
    var configuration = CacheConfiguration()
    configuration.mode = .exact
    let cache = ResponseCache(configuration: configuration, store: store, embedder: nil, logger: Logger(label: "bench"))
    let stage = CacheStage(cache: cache)
    var call = Call(
        id: "req_bench",
        endpoint: .chatCompletions,
        body: body,
        presentedKey: nil,
        logger: Logger(label: "bench")
    )
    call.chat = try? ChatRequest(body: body)
    call.caller = Caller(keyName: "bench", team: "bench")
    let key = CacheFingerprint(body: body, endpoint: .chatCompletions, namespace: "team:bench")!.exact
    let stored = CachedAnswer(
        key: key,
        namespace: "team:bench",
        model: "gpt-4o-mini",
        provider: "openai",
        upstreamModel: "gpt-4o-mini",
        body: answer,
        usage: TokenUsage(inputTokens: 24, outputTokens: 9),
        cost: 0.0000090,
        createdAt: Date(),
        expiresAt: .distantFuture
    )
    let unanswered: @Sendable (Call) async throws -> Reply = { _ in fatalError("a hit must not reach dispatch") }

    Benchmark("Exact hit: key, lookup and reply through the cache stage") { benchmark in
        try await store.saveCachedAnswer(stored)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await stage.handle(call, next: unanswered))
        }
    }

    // MARK: Semantic lookup

    // Vectors like a sentence model's: unit length, and similar to each other (pairwise cosine about
    // 0.35, as unrelated sentences score with all-MiniLM-L6-v2 at most), which is harder for the
    // sign-bit filter than unrelated random vectors.
    let dimensions = 384
    var generator = SplitMix(seed: 42)
    let common = unit((0..<dimensions).map { _ in generator.gaussian() })
    func sentenceLike() -> [Float] {
        unit(
            zip(common, (0..<dimensions).map { _ in generator.gaussian() }).map {
                0.75 * $0 + $1 / Float(dimensions).squareRoot()
            }
        )
    }
    let entries = 100_000
    let index = SemanticIndex(capacity: entries)
    let signature = PromptSignature("How do I reset my password?")
    var stored0: [Float] = []
    for number in 0..<entries {
        let vector = sentenceLike()
        if number == 0 { stored0 = vector }
        index.insert(
            key: "k\(number)",
            context: "ctx",
            vector: vector,
            signature: signature,
            expiresAt: .distantFuture,
            namespace: "team:bench",
            model: "gpt-4o-mini"
        )
    }
    // A paraphrase of entry 0 (cosine about 0.9) and a prompt like none stored.
    let near = unit(zip(stored0, sentenceLike()).map { 2.2 * $0 + $1 })
    let far = sentenceLike()
    let prompt = PromptSignature("What are the steps to reset my password?")

    Benchmark("Semantic lookup: 100,000 entries of one context, a hit") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(index.nearest(context: "ctx", vector: near, signature: prompt, threshold: 0.8))
        }
    }
    Benchmark("Semantic lookup: 100,000 entries of one context, a miss") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(index.nearest(context: "ctx", vector: far, signature: prompt, threshold: 0.8))
        }
    }
    Benchmark("Prompt signature of a last user turn") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(PromptSignature("Convert 30 degrees Celsius to Fahrenheit for my trip to Paris, not Kelvin."))
        }
    }
}

/// `values` scaled to unit length.
func unit(_ values: [Float]) -> [Float] {
    let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return values.map { $0 / norm }
}

/// A small seeded generator, so every run indexes the same vectors.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A standard normal draw (Box–Muller).
    mutating func gaussian() -> Float {
        let u = max(Double.leastNonzeroMagnitude, Double(self.next() >> 11) / Double(1 << 53))
        let v = Double(self.next() >> 11) / Double(1 << 53)
        return Float((-2 * log(u)).squareRoot() * cos(2 * .pi * v))
    }
}
