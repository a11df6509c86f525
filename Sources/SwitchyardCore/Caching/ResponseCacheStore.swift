// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization

/// A cached answer: the complete OpenAI-shaped body of a successful call and what it cost.
public struct CachedAnswer: Sendable, Equatable {
    /// The request's exact key (``CacheFingerprint/exact``).
    public var key: String
    /// Whose answer it is (a team, a key, or `*` when shared).
    public var namespace: String
    /// The public model asked for.
    public var model: String
    /// The provider and upstream model that answered.
    public var provider: String
    /// The upstream model.
    public var upstreamModel: String
    /// The body: a `chat.completion` (streamed answers are assembled into one) or an embeddings list.
    public var body: [UInt8]
    /// Input, cached input and output tokens of the original call.
    public var usage: TokenUsage?
    /// What the original call cost in USD: what each hit saves.
    public var cost: Double?
    /// When it was stored.
    public var createdAt: Date
    /// When it stops being served.
    public var expiresAt: Date
    /// The semantic side, when the request could be matched semantically.
    public var semantic: SemanticKey?

    /// The semantic side of an entry.
    public struct SemanticKey: Sendable, Equatable {
        /// The context key (``CacheFingerprint/context``).
        public var context: String
        /// The last user turn (for its ``PromptSignature`` when the index is rebuilt).
        public var prompt: String
        /// The last user turn's embedding.
        public var vector: [Float]

        /// Creates the semantic side.
        public init(context: String, prompt: String, vector: [Float]) {
            self.context = context
            self.prompt = prompt
            self.vector = vector
        }
    }

    /// Creates an entry.
    public init(
        key: String,
        namespace: String,
        model: String,
        provider: String,
        upstreamModel: String,
        body: [UInt8],
        usage: TokenUsage?,
        cost: Double?,
        createdAt: Date,
        expiresAt: Date,
        semantic: SemanticKey? = nil
    ) {
        self.key = key
        self.namespace = namespace
        self.model = model
        self.provider = provider
        self.upstreamModel = upstreamModel
        self.body = body
        self.usage = usage
        self.cost = cost
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.semantic = semantic
    }

    /// About how many bytes the entry occupies.
    public var size: Int {
        self.body.count + self.key.utf8.count + self.namespace.utf8.count + self.model.utf8.count + 256
            + (self.semantic.map { $0.prompt.utf8.count + $0.vector.count * 4 + $0.context.utf8.count } ?? 0)
    }

    /// The vector as little-endian 32-bit floats, as stores keep it.
    public static func vectorBytes(_ vector: [Float]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(vector.count * 4)
        for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
        return bytes
    }

    /// The vector ``vectorBytes(_:)`` wrote; `nil` for a length that is not a whole number of floats.
    public static func vector(fromBytes bytes: [UInt8]) -> [Float]? {
        guard bytes.count % 4 == 0, bytes.count / 4 <= SemanticIndex.maxDimensions else { return nil }
        var vector: [Float] = []
        vector.reserveCapacity(bytes.count / 4)
        var index = 0
        while index < bytes.count {
            let bits =
                UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16
                | UInt32(bytes[index + 3]) << 24
            vector.append(Float(bitPattern: bits))
            index += 4
        }
        return vector
    }
}

/// An entry of the semantic index as a store lists it, with its place in the store's order.
public struct SemanticEntry: Sendable, Equatable {
    /// Increases with every write: the index asks for entries after the last it has seen.
    public var sequence: Int64
    /// The entry's exact key.
    public var key: String
    /// Its namespace.
    public var namespace: String
    /// Its public model.
    public var model: String
    /// When it expires.
    public var expiresAt: Date
    /// Its semantic side.
    public var semantic: CachedAnswer.SemanticKey

    /// Creates a listing.
    public init(
        sequence: Int64,
        key: String,
        namespace: String,
        model: String,
        expiresAt: Date,
        semantic: CachedAnswer.SemanticKey
    ) {
        self.sequence = sequence
        self.key = key
        self.namespace = namespace
        self.model = model
        self.expiresAt = expiresAt
        self.semantic = semantic
    }
}

/// Where cached answers are kept: the memory of this process, SQLite, or PostgreSQL shared by instances.
public protocol ResponseCacheStore: Sendable {
    /// The live entry `key`, if any.
    func cachedAnswer(key: String, now: Date) async throws -> CachedAnswer?
    /// Stores `answer`, replacing an entry with its key.
    func saveCachedAnswer(_ answer: CachedAnswer) async throws
    /// Removes the entries of `namespace` and `model` (`nil`: any); returns how many.
    func deleteCachedAnswers(namespace: String?, model: String?) async throws -> Int
    /// Removes up to `limit` entries that expired before `now`; returns how many.
    func purgeCachedAnswers(expiredBefore now: Date, limit: Int) async throws -> Int
    /// Up to `limit` live entries with a semantic side written after `sequence`, oldest first.
    func semanticEntries(after sequence: Int64, limit: Int, now: Date) async throws -> [SemanticEntry]
}

/// Cached answers in this process's memory, bounded by bytes: the least recently used leave first.
public final class MemoryResponseCache: ResponseCacheStore {
    struct Slot {
        var answer: CachedAnswer
        var sequence: Int64
        var lastUsed: UInt64
    }

    struct State {
        var slots: [String: Slot] = [:]
        var bytes = 0
        var clock: UInt64 = 0
        var sequence: Int64 = 0
    }

    private let state = Mutex(State())
    /// The most bytes held.
    public let maxBytes: Int

    /// An empty cache holding at most `maxBytes`.
    public init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    /// The bytes held now.
    public var bytes: Int { self.state.withLock { $0.bytes } }

    /// The live entry `key`, marked as just used.
    public func cachedAnswer(key: String, now: Date) async throws -> CachedAnswer? {
        self.state.withLock { state in
            guard var slot = state.slots[key], slot.answer.expiresAt > now else { return nil }
            state.clock += 1
            slot.lastUsed = state.clock
            state.slots[key] = slot
            return slot.answer
        }
    }

    /// Stores `answer`, evicting the least recently used entries until it fits.
    public func saveCachedAnswer(_ answer: CachedAnswer) async throws {
        let size = answer.size
        guard size <= self.maxBytes else { return }
        self.state.withLock { state in
            if let old = state.slots.removeValue(forKey: answer.key) { state.bytes -= old.answer.size }
            if state.bytes + size > self.maxBytes {
                // Evict in batches: sorting once per overflow, not once per entry.
                let byAge = state.slots.sorted { $0.value.lastUsed < $1.value.lastUsed }
                var freed = 0
                let needed = state.bytes + size - self.maxBytes + self.maxBytes / 10
                for (key, slot) in byAge where freed < needed {
                    state.slots[key] = nil
                    freed += slot.answer.size
                }
                state.bytes -= freed
            }
            state.clock += 1
            state.sequence += 1
            state.slots[answer.key] = Slot(answer: answer, sequence: state.sequence, lastUsed: state.clock)
            state.bytes += size
        }
    }

    /// Removes matching entries.
    public func deleteCachedAnswers(namespace: String?, model: String?) async throws -> Int {
        self.state.withLock { state in
            let doomed = state.slots.filter { _, slot in
                (namespace == nil || slot.answer.namespace == namespace) && (model == nil || slot.answer.model == model)
            }
            for (key, slot) in doomed {
                state.slots[key] = nil
                state.bytes -= slot.answer.size
            }
            return doomed.count
        }
    }

    /// Removes expired entries.
    public func purgeCachedAnswers(expiredBefore now: Date, limit: Int) async throws -> Int {
        self.state.withLock { state in
            let doomed = state.slots.filter { $0.value.answer.expiresAt <= now }.prefix(limit)
            for (key, slot) in doomed {
                state.slots[key] = nil
                state.bytes -= slot.answer.size
            }
            return doomed.count
        }
    }

    /// Live semantic entries written after `sequence`.
    public func semanticEntries(after sequence: Int64, limit: Int, now: Date) async throws -> [SemanticEntry] {
        self.state.withLock { state in
            state.slots.values.filter { $0.sequence > sequence && $0.answer.expiresAt > now }
                .sorted { $0.sequence < $1.sequence }.prefix(limit)
                .compactMap { slot in
                    slot.answer.semantic.map {
                        SemanticEntry(
                            sequence: slot.sequence,
                            key: slot.answer.key,
                            namespace: slot.answer.namespace,
                            model: slot.answer.model,
                            expiresAt: slot.answer.expiresAt,
                            semantic: $0
                        )
                    }
                }
        }
    }
}
