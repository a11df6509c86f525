// SPDX-License-Identifier: Apache-2.0

import CoreMetrics
import Foundation
import Logging
import NIOCore
import Synchronization

/// The response cache: where answers are looked up, how hits are replayed, and the queue that stores
/// new answers off the request's path.
///
/// ``CacheStage`` asks it; a background service (``runWrites()``, ``refreshIndex(now:)``,
/// ``purge(now:)``) stores, shares and expires entries.
public final class ResponseCache: Sendable {
    /// Turns a last user turn into a vector (the configured embeddings model, through its routes).
    public typealias Embedder = @Sendable (String) async throws -> [Float]

    /// The `cache` section.
    public let configuration: CacheConfiguration
    /// Where entries are kept.
    public let store: any ResponseCacheStore
    /// Semantic entries' vectors; `nil` without semantic settings.
    public let index: SemanticIndex?
    private let modelSettings: [String: ModelCacheConfiguration]
    /// Recently used entries of a database store, in memory, so a hit on a hot entry reads no database.
    private let front: MemoryResponseCache?
    /// How long the front may serve an entry before reading it again: until it expires for a store
    /// only this process writes, briefly for one several instances share (another may delete it).
    private let frontLifetime: TimeInterval
    private let embedder: Embedder?
    private let logger: Logger
    private let queue: AsyncStream<PendingAnswer>.Continuation
    private let pending: Mutex<AsyncStream<PendingAnswer>?>
    private let pendingBytes = Atomic<Int>(0)
    private let lastSequence = Mutex<Int64>(0)
    private let dropped = Atomic<Int>(0)
    private let droppedCounter: Counter?
    /// Models whose every route keeps no data: never cached.
    private let retentionFree: Set<String>

    /// The most answers waiting to be stored; beyond it new answers are not cached (and counted).
    public static let queueLimit = 1024
    /// The most bytes of answers waiting to be stored, likewise.
    public static let queueByteLimit = 64 << 20
    /// Entries re-read behind the last one seen, for PostgreSQL rows committed out of sequence order.
    static let sequenceOverlap: Int64 = 256

    /// A cache over `store` with `configuration` and the models' own settings.
    ///
    /// - Parameters:
    ///   - front: memory in front of a database store, for entries in use; `nil` for a memory store.
    ///   - frontLifetime: seconds the front serves an entry before reading the store again (`nil`:
    ///     until the entry expires, for a store no other instance writes).
    ///   - zeroDataRetention: models whose every route has zero data retention: never cached.
    ///   - droppedWrites: counts answers not cached because the write queue was full.
    public init(
        configuration: CacheConfiguration,
        models: [String: ModelCacheConfiguration] = [:],
        store: any ResponseCacheStore,
        front: MemoryResponseCache? = nil,
        frontLifetime: TimeInterval? = nil,
        zeroDataRetention: Set<String> = [],
        droppedWrites: Counter? = nil,
        embedder: Embedder?,
        logger: Logger
    ) {
        self.retentionFree = zeroDataRetention
        self.droppedCounter = droppedWrites
        self.front = front
        self.frontLifetime = frontLifetime ?? .infinity
        self.configuration = configuration
        self.modelSettings = models
        self.store = store
        self.embedder = embedder
        self.logger = logger
        self.index = configuration.semantic.map { SemanticIndex(capacity: $0.maxEntries) }
        let (stream, continuation) = AsyncStream.makeStream(
            of: PendingAnswer.self,
            bufferingPolicy: .bufferingOldest(Self.queueLimit)
        )
        self.queue = continuation
        self.pending = Mutex(stream)
    }

    /// The mode and lifetime that apply to `model`; off for a model whose routes keep no data.
    public func policy(for model: String) -> (mode: CacheConfiguration.Mode, ttl: Duration) {
        let own = self.modelSettings[model]
        let mode = self.retentionFree.contains(model) ? .off : own?.mode ?? self.configuration.mode
        return (mode, own?.ttl ?? self.configuration.ttl)
    }

    /// Whose answers `caller` may be served.
    public func namespace(for caller: Caller?) -> String {
        switch self.configuration.namespace {
        case .shared: return "*"
        case .key: return "key:" + Self.keyName(caller)
        case .team:
            if let team = caller?.team { return "team:" + team }
            return "key:" + Self.keyName(caller)
        }
    }

    private static func keyName(_ caller: Caller?) -> String {
        guard let caller else { return "anonymous" }
        return caller.keyID ?? caller.keyName
    }

    /// The live entry `key`, from the front when it holds it; a store that fails is logged and
    /// counts as a miss.
    public func answer(key: String, now: Date = Date()) async -> CachedAnswer? {
        if let front = self.front, let held = try? await front.cachedAnswer(key: key, now: now) { return held }
        do {
            let answer = try await self.store.cachedAnswer(key: key, now: now)
            if let answer { await self.hold(answer, now: now) }
            return answer
        } catch {
            self.logger.warning("cache lookup failed", metadata: ["gw.error": "\(String(reflecting: type(of: error)))"])
            return nil
        }
    }

    /// Whether a request may be answered semantically and leave a semantic entry.
    public func semanticPrompt(_ fingerprint: CacheFingerprint) -> (context: String, prompt: String)? {
        guard let settings = self.configuration.semantic, let context = fingerprint.context,
            let prompt = fingerprint.prompt, !prompt.isEmpty, prompt.count <= settings.maxPromptCharacters,
            (fingerprint.temperature ?? 1) <= settings.maxTemperature
        else { return nil }
        return (context, prompt)
    }

    /// The vector of `prompt`, or `nil` when the embeddings model fails (logged: the call goes on as a miss).
    public func embed(_ prompt: String) async -> [Float]? {
        guard let embedder else { return nil }
        do {
            return try await embedder(prompt)
        } catch {
            self.logger.warning(
                "cache embedding failed",
                metadata: ["gw.error": "\(String(describing: error).prefix(300))"]
            )
            return nil
        }
    }

    /// The stored answer most similar to `prompt` in `context`, at or above the namespace's threshold.
    public func nearest(
        context: String,
        prompt: String,
        vector: [Float],
        namespace: String,
        now: Date = Date()
    ) async -> (answer: CachedAnswer, similarity: Double)? {
        guard let index = self.index, let settings = self.configuration.semantic else { return nil }
        guard
            let match = index.nearest(
                context: context,
                vector: vector,
                signature: PromptSignature(prompt),
                threshold: settings.threshold(for: namespace),
                now: now
            )
        else { return nil }
        guard let answer = await self.answer(key: match.key, now: now) else {
            // Deleted or expired in the store (perhaps by another instance): forget it here too.
            index.remove(key: match.key)
            return nil
        }
        return (answer, match.similarity)
    }

    /// The reply that serves `answer` to `call`; `nil` when the stored body cannot be replayed.
    public func reply(_ answer: CachedAnswer, status: CacheStatus, call: Call, similarity: Double? = nil) -> Reply? {
        let body: Reply.Body
        if let chat = call.chat, chat.isStreaming {
            guard let events = AnswerReplay.events(completion: answer.body) else { return nil }
            let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
            continuation.yield(events)
            continuation.finish()
            body = .stream(
                ChatStream(
                    upstream: ByteStream(stream),
                    clientWantsUsage: chat.includesUsage,
                    pricing: Self.free,
                    startedAt: call.startedAt
                )
            )
        } else {
            guard let annotated = try? UsageAnnotator.annotate(body: answer.body, pricing: Self.free) else {
                return nil
            }
            body = .complete(ByteBuffer(bytes: annotated.body), usage: annotated.usage, cost: 0)
        }
        var reply = Reply(
            provider: answer.provider,
            model: answer.upstreamModel,
            attempts: [],
            cacheStatus: status,
            body: body
        )
        reply.savedCost = answer.cost
        reply.routeReason =
            "cache=\(status.rawValue)" + (similarity.map { " similarity=" + String(format: "%.3f", $0) } ?? "")
        return reply
    }

    /// Keeps `answer` in the front for at most ``frontLifetime``.
    private func hold(_ answer: CachedAnswer, now: Date) async {
        guard let front = self.front else { return }
        var held = answer
        held.expiresAt = min(answer.expiresAt, now.addingTimeInterval(self.frontLifetime))
        held.semantic = nil
        try? await front.saveCachedAnswer(held)
    }

    /// Prices that make a replayed answer's `usage.cost` 0.
    static let free = Pricing(input: 0, output: 0)

    /// Queues an answer to be stored; never waits. A full queue (``queueLimit`` answers or
    /// ``queueByteLimit`` bytes) or a stopped writer drops it, counted in ``droppedWrites``.
    public func enqueue(_ answer: PendingAnswer) {
        let size = answer.body.count
        let queued = self.pendingBytes.add(size, ordering: .relaxed).newValue
        guard queued <= Self.queueByteLimit else {
            self.pendingBytes.subtract(size, ordering: .relaxed)
            self.countDropped()
            return
        }
        switch self.queue.yield(answer) {
        case .enqueued: break
        case .dropped, .terminated:
            self.pendingBytes.subtract(size, ordering: .relaxed)
            self.countDropped()
        @unknown default: break
        }
    }

    private func countDropped() {
        self.dropped.add(1, ordering: .relaxed)
        self.droppedCounter?.increment()
    }

    /// Answers not cached because the queue was full.
    public var droppedWrites: Int { self.dropped.load(ordering: .relaxed) }

    /// Stores queued answers until ``finishWrites()``; run by one background task.
    public func runWrites() async {
        guard
            let stream = self.pending.withLock({ stream in
                defer { stream = nil }
                return stream
            })
        else { return }
        for await answer in stream {
            self.pendingBytes.subtract(answer.body.count, ordering: .relaxed)
            await self.store(answer)
        }
    }

    /// Ends ``runWrites()`` once the queued answers are stored.
    public func finishWrites() { self.queue.finish() }

    /// Builds the entry of a finished answer and stores it (and indexes it, when semantic).
    func store(_ pending: PendingAnswer, now: Date = Date()) async {
        let body: [UInt8]
        if pending.isStream {
            guard let assembled = AnswerReplay.assemble(events: pending.body, usage: pending.usage) else { return }
            body = assembled
        } else {
            body = pending.body
        }
        guard body.count <= self.configuration.maxEntryBytes else { return }
        var semantic: CachedAnswer.SemanticKey?
        if let context = pending.context, let prompt = pending.prompt {
            var vector = pending.vector
            if vector == nil { vector = await self.embed(prompt) }
            semantic = vector.map { .init(context: context, prompt: prompt, vector: $0) }
        }
        let answer = CachedAnswer(
            key: pending.key,
            namespace: pending.namespace,
            model: pending.model,
            provider: pending.provider,
            upstreamModel: pending.upstreamModel,
            body: body,
            usage: pending.usage,
            cost: pending.cost,
            createdAt: now,
            expiresAt: now.addingTimeInterval(pending.ttl),
            semantic: semantic
        )
        do {
            try await self.store.saveCachedAnswer(answer)
        } catch {
            self.logger.warning("cache write failed", metadata: ["gw.error": "\(String(reflecting: type(of: error)))"])
            return
        }
        await self.hold(answer, now: now)
        if let semantic {
            self.index(
                key: answer.key,
                namespace: answer.namespace,
                model: answer.model,
                expiresAt: answer.expiresAt,
                semantic
            )
        }
    }

    /// Adds a semantic entry to the index (`sequence` 0 when the store's number is not known).
    private func index(
        key: String,
        namespace: String,
        model: String,
        expiresAt: Date,
        _ semantic: CachedAnswer.SemanticKey,
        sequence: Int64 = 0
    ) {
        self.index?.insert(
            key: key,
            context: semantic.context,
            vector: semantic.vector,
            signature: PromptSignature(semantic.prompt),
            expiresAt: expiresAt,
            namespace: namespace,
            model: model,
            sequence: sequence
        )
    }

    /// Adds the semantic entries written since the last refresh (by any instance) to the index; at
    /// start, all of them. Entries the index already holds under their sequence number are skipped.
    public func refreshIndex(now: Date = Date()) async throws {
        guard self.index != nil else { return }
        let page = 1000
        while true {
            let after = self.lastSequence.withLock { $0 }
            let entries = try await self.store.semanticEntries(
                after: max(0, after - Self.sequenceOverlap),
                limit: page,
                now: now
            )
            var newest = after
            for entry in entries {
                newest = max(newest, entry.sequence)
                self.index(
                    key: entry.key,
                    namespace: entry.namespace,
                    model: entry.model,
                    expiresAt: entry.expiresAt,
                    entry.semantic,
                    sequence: entry.sequence
                )
            }
            self.lastSequence.withLock { $0 = max($0, newest) }
            // Paged by progress, not by a full page: a store may leave out rows it cannot read.
            guard !entries.isEmpty, newest > after else { return }
        }
    }

    /// Removes expired entries from the store (in steps, so no request waits behind one long delete)
    /// and from the index.
    public func purge(now: Date = Date()) async throws {
        self.index?.removeAll(expiredAt: now)
        _ = try await self.front?.purgeCachedAnswers(expiredBefore: now, limit: .max)
        while try await self.store.purgeCachedAnswers(expiredBefore: now, limit: 500) == 500 {
            await Task.yield()
        }
    }

    /// Removes the entries of `namespace` and `model` (`nil`: all) from the store and the index.
    public func clear(namespace: String?, model: String?) async throws -> Int {
        self.index?.removeAll(namespace: namespace, model: model)
        _ = try await self.front?.deleteCachedAnswers(namespace: namespace, model: model)
        return try await self.store.deleteCachedAnswers(namespace: namespace, model: model)
    }
}

/// A finished answer waiting to be stored.
public struct PendingAnswer: Sendable {
    /// The request's exact key.
    public var key: String
    /// Its namespace.
    public var namespace: String
    /// The public model.
    public var model: String
    /// Who answered.
    public var provider: String
    /// The upstream model.
    public var upstreamModel: String
    /// The complete body, or the stream's events as sent.
    public var body: [UInt8]
    /// Whether ``body`` holds events.
    public var isStream: Bool
    /// Usage of the call.
    public var usage: TokenUsage?
    /// Cost of the call.
    public var cost: Double?
    /// Seconds the entry lives.
    public var ttl: TimeInterval
    /// The semantic context key, when the request may be matched semantically.
    public var context: String?
    /// The last user turn, likewise.
    public var prompt: String?
    /// Its vector, when the lookup already embedded it.
    public var vector: [Float]?

    /// Describes a finished answer to store.
    public init(
        key: String,
        namespace: String,
        model: String,
        provider: String,
        upstreamModel: String,
        body: [UInt8],
        isStream: Bool,
        usage: TokenUsage?,
        cost: Double?,
        ttl: TimeInterval,
        context: String? = nil,
        prompt: String? = nil,
        vector: [Float]? = nil
    ) {
        self.key = key
        self.namespace = namespace
        self.model = model
        self.provider = provider
        self.upstreamModel = upstreamModel
        self.body = body
        self.isStream = isStream
        self.usage = usage
        self.cost = cost
        self.ttl = ttl
        self.context = context
        self.prompt = prompt
        self.vector = vector
    }
}
