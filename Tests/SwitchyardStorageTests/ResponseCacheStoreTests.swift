// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging
import SwitchyardCore
import Synchronization
import Testing

@testable import SwitchyardStorage

/// Cached answers in every store: kept, replaced, expired, deleted by namespace and model, and listed
/// for the semantic index, which a fresh cache rebuilds from the store.
struct ResponseCacheStoreTests {
    static func answer(
        _ key: String,
        namespace: String = "team:a",
        model: String = "m",
        expiresIn seconds: TimeInterval = 3600,
        vector: [Float]? = [0.6, 0.8, 0]
    ) -> CachedAnswer {
        let now = Date()
        return CachedAnswer(
            key: key,
            namespace: namespace,
            model: model,
            provider: "up",
            upstreamModel: "up-model",
            body: Array(#"{"id":"c","object":"chat.completion","choices":[]}"#.utf8),
            usage: TokenUsage(inputTokens: 10, cachedInputTokens: 4, outputTokens: 20),
            cost: 0.25,
            createdAt: now,
            expiresAt: now.addingTimeInterval(seconds),
            semantic: vector.map {
                .init(context: "ctx-" + namespace, prompt: "How do I reset my password?", vector: $0)
            }
        )
    }

    /// The cache stores of each backend, and memory.
    static func withStores(_ body: (any ResponseCacheStore) async throws -> Void) async throws {
        try await body(MemoryResponseCache(maxBytes: 1 << 20))
        for backend in Backend.available {
            try await backend.withStore { store in try await body(try #require(store as? any ResponseCacheStore)) }
        }
    }

    @Test("Entries are kept whole, replaced under their key, expire, and go by namespace or model")
    func keepReplaceExpireDelete() async throws {
        try await Self.withStores { store in
            let first = Self.answer("k1")
            try await store.saveCachedAnswer(first)
            let read = try #require(try await store.cachedAnswer(key: "k1", now: Date()))
            #expect(read.body == first.body && read.usage == first.usage && read.cost == 0.25)
            #expect(read.semantic == first.semantic && read.provider == "up" && read.upstreamModel == "up-model")
            #expect(abs(read.expiresAt.timeIntervalSince(first.expiresAt)) < 0.001)
            #expect(try await store.cachedAnswer(key: "k1", now: Date().addingTimeInterval(7200)) == nil)

            var replaced = Self.answer("k1", vector: nil)
            replaced.body = Array("{}".utf8)
            try await store.saveCachedAnswer(replaced)
            #expect(try await store.cachedAnswer(key: "k1", now: Date())?.body == Array("{}".utf8))

            try await store.saveCachedAnswer(Self.answer("k2", namespace: "team:b"))
            try await store.saveCachedAnswer(Self.answer("k3", model: "other"))
            try await store.saveCachedAnswer(Self.answer("old", expiresIn: -10))
            #expect(try await store.purgeCachedAnswers(expiredBefore: Date(), limit: 100) == 1)
            #expect(try await store.deleteCachedAnswers(namespace: "team:b", model: nil) == 1)
            #expect(try await store.cachedAnswer(key: "k2", now: Date()) == nil)
            #expect(try await store.deleteCachedAnswers(namespace: nil, model: "other") == 1)
            #expect(try await store.cachedAnswer(key: "k1", now: Date()) != nil)
            #expect(try await store.deleteCachedAnswers(namespace: nil, model: nil) == 1)
        }
    }

    @Test("Semantic entries are listed in write order after a sequence, and a fresh cache indexes them")
    func semanticListingAndRebuild() async throws {
        try await Self.withStores { store in
            try await store.saveCachedAnswer(Self.answer("s1"))
            try await store.saveCachedAnswer(Self.answer("plain", vector: nil))
            try await store.saveCachedAnswer(Self.answer("s2", vector: [0, 1, 0]))
            let all = try await store.semanticEntries(after: 0, limit: 10, now: Date())
            #expect(all.map(\.key) == ["s1", "s2"])
            #expect(all[0].sequence < all[1].sequence)
            #expect(all[0].semantic.vector == [0.6, 0.8, 0])
            #expect(
                try await store.semanticEntries(after: all[0].sequence, limit: 10, now: Date()).map(\.key) == ["s2"]
            )

            var configuration = CacheConfiguration()
            configuration.mode = .semantic
            configuration.semantic = SemanticCacheConfiguration(embeddingModel: "e", threshold: 0.95)
            let cache = ResponseCache(
                configuration: configuration,
                store: store,
                embedder: nil,
                logger: Logger(label: "test")
            )
            try await cache.refreshIndex()
            #expect(cache.index?.count == 2)
            let match = await cache.nearest(
                context: "ctx-team:a",
                prompt: "How do I reset my password?",
                vector: [0.61, 0.79, 0.01],
                namespace: "team:a"
            )
            #expect(match?.answer.key == "s1")
            #expect(try await cache.clear(namespace: "team:a", model: nil) == 3)
            #expect(cache.index?.count == 0)
        }
    }

    /// A store that counts its reads.
    final class CountingStore: ResponseCacheStore {
        let inner = MemoryResponseCache(maxBytes: 1 << 20)
        let reads = Mutex(0)
        func cachedAnswer(key: String, now: Date) async throws -> CachedAnswer? {
            self.reads.withLock { $0 += 1 }
            return try await self.inner.cachedAnswer(key: key, now: now)
        }
        func saveCachedAnswer(_ answer: CachedAnswer) async throws { try await self.inner.saveCachedAnswer(answer) }
        func deleteCachedAnswers(namespace: String?, model: String?) async throws -> Int {
            try await self.inner.deleteCachedAnswers(namespace: namespace, model: model)
        }
        func purgeCachedAnswers(expiredBefore now: Date, limit: Int) async throws -> Int {
            try await self.inner.purgeCachedAnswers(expiredBefore: now, limit: limit)
        }
        func semanticEntries(after sequence: Int64, limit: Int, now: Date) async throws -> [SemanticEntry] {
            try await self.inner.semanticEntries(after: sequence, limit: limit, now: now)
        }
    }

    @Test("Entries in use are served from memory in front of the store, for at most the front's lifetime")
    func frontOfTheStore() async throws {
        let store = CountingStore()
        try await store.saveCachedAnswer(Self.answer("k"))
        var configuration = CacheConfiguration()
        configuration.mode = .exact
        let cache = ResponseCache(
            configuration: configuration,
            store: store,
            front: MemoryResponseCache(maxBytes: 1 << 20),
            frontLifetime: 2,
            embedder: nil,
            logger: Logger(label: "test")
        )
        let now = Date()
        #expect(await cache.answer(key: "k", now: now)?.key == "k")
        #expect(await cache.answer(key: "k", now: now.addingTimeInterval(1))?.key == "k")
        #expect(store.reads.withLock { $0 } == 1)
        // After its lifetime the front asks the store again, which another instance may have emptied.
        _ = try await store.deleteCachedAnswers(namespace: nil, model: nil)
        #expect(await cache.answer(key: "k", now: now.addingTimeInterval(3)) == nil)
        #expect(store.reads.withLock { $0 } == 2)
        // Cleared through this cache, the front forgets at once.
        try await store.saveCachedAnswer(Self.answer("k"))
        #expect(await cache.answer(key: "k", now: now.addingTimeInterval(3)) != nil)
        #expect(try await cache.clear(namespace: nil, model: "m") == 1)
        #expect(await cache.answer(key: "k", now: now.addingTimeInterval(3)) == nil)
    }

    @Test("The write queue holds at most 1,024 answers and 64 MiB; what does not fit is counted, not kept")
    func boundedWriteQueue() async throws {
        var configuration = CacheConfiguration()
        configuration.mode = .exact
        let store = MemoryResponseCache(maxBytes: 1 << 30)
        let cache = ResponseCache(configuration: configuration, store: store, embedder: nil, logger: Logger(label: "t"))
        func pending(_ key: String, bytes: Int) -> PendingAnswer {
            PendingAnswer(
                key: key,
                namespace: "n",
                model: "m",
                provider: "p",
                upstreamModel: "u",
                body: Array(#"{"object":"chat.completion","choices":[]}"#.utf8) + [UInt8](repeating: 32, count: bytes),
                isStream: false,
                usage: nil,
                cost: nil,
                ttl: 60
            )
        }
        // No writer runs yet: the queue fills.
        for number in 0..<ResponseCache.queueLimit { cache.enqueue(pending("k\(number)", bytes: 0)) }
        cache.enqueue(pending("one-too-many", bytes: 0))
        #expect(cache.droppedWrites == 1)
        cache.enqueue(pending("huge", bytes: ResponseCache.queueByteLimit))
        #expect(cache.droppedWrites == 2)
        cache.finishWrites()
        await cache.runWrites()
        #expect(try await store.cachedAnswer(key: "k0", now: Date()) != nil)
        #expect(try await store.cachedAnswer(key: "one-too-many", now: Date()) == nil)
        // After the writer stopped, answers are counted as dropped rather than lost silently.
        cache.enqueue(pending("late", bytes: 0))
        #expect(cache.droppedWrites == 3)
    }

    @Test("Answers over max_entry_bytes are not kept; long or hot prompts take no part in semantic lookups")
    func entryAndPromptBounds() async throws {
        var configuration = CacheConfiguration()
        configuration.mode = .semantic
        configuration.maxEntryBytes = 1024
        var semantic = SemanticCacheConfiguration(embeddingModel: "e")
        semantic.maxPromptCharacters = 20
        semantic.maxTemperature = 0.5
        configuration.semantic = semantic
        let store = MemoryResponseCache(maxBytes: 1 << 20)
        let cache = ResponseCache(configuration: configuration, store: store, embedder: nil, logger: Logger(label: "t"))
        let small = Array(#"{"object":"chat.completion","choices":[]}"#.utf8)
        for (key, body) in [("small", small), ("large", small + [UInt8](repeating: 32, count: 1024))] {
            cache.enqueue(
                PendingAnswer(
                    key: key,
                    namespace: "n",
                    model: "m",
                    provider: "p",
                    upstreamModel: "u",
                    body: body,
                    isStream: false,
                    usage: nil,
                    cost: nil,
                    ttl: 60
                )
            )
        }
        cache.finishWrites()
        await cache.runWrites()
        #expect(try await store.cachedAnswer(key: "small", now: Date()) != nil)
        #expect(try await store.cachedAnswer(key: "large", now: Date()) == nil)

        func prompt(_ text: String, temperature: String = "") throws -> CacheFingerprint {
            let body = #"{"model":"m","messages":[{"role":"user","content":"\#(text)"}]\#(temperature)}"#
            return try #require(CacheFingerprint(body: Array(body.utf8), endpoint: .chatCompletions, namespace: "n"))
        }
        #expect(cache.semanticPrompt(try prompt("Short question?", temperature: #","temperature":0.2"#)) != nil)
        #expect(
            cache.semanticPrompt(
                try prompt("A question longer than twenty characters?", temperature: #","temperature":0.2"#)
            ) == nil
        )
        #expect(cache.semanticPrompt(try prompt("Short question?", temperature: #","temperature":0.7"#)) == nil)
        // No temperature is the provider's default, 1: hotter than 0.5.
        #expect(cache.semanticPrompt(try prompt("Short question?")) == nil)
    }

    @Test("The memory store evicts the least recently used entries to stay within its bytes")
    func memoryEviction() async throws {
        let store = MemoryResponseCache(maxBytes: 1500)
        for index in 0..<10 {
            try await store.saveCachedAnswer(Self.answer("k\(index)", vector: nil))
            // k0 is read after every write, so it stays the most recently used.
            _ = try await store.cachedAnswer(key: "k0", now: Date())
        }
        #expect(store.bytes <= 1500)
        #expect(try await store.cachedAnswer(key: "k0", now: Date()) != nil)
        #expect(try await store.cachedAnswer(key: "k9", now: Date()) != nil)
        #expect(try await store.cachedAnswer(key: "k1", now: Date()) == nil)
    }
}
