// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Response cache settings (`cache:`, SPEC §4; docs/caching.md).
///
/// - Configuration keys (all optional):
///   - `mode` (`off` | `exact` | `semantic`, default `off`): `semantic` answers from similar prompts
///     as well as from equal requests.
///   - `ttl` (duration, default `1h`): how long an answer is served.
///   - `storage` (`store` | `memory`, default `store`): `store` keeps answers in the gateway's store
///     (SQLite, or PostgreSQL shared by every instance); `memory` in this process, least recently used
///     first out once `max_bytes` is reached.
///   - `max_bytes` (integer, default 256 MiB): what memory holds at most: every entry with `memory`
///     storage, the entries in use in front of the store with `store`.
///   - `max_entry_bytes` (integer, default 1 MiB): longer answers are not cached.
///   - `namespace` (`team` | `key` | `shared`, default `team`): whose answers a caller may be served:
///     its team's (a caller without a team: its key's), its key's, or everyone's.
///   - `semantic` (object): ``SemanticCacheConfiguration``; required by `mode: semantic`.
public struct CacheConfiguration: Sendable, Decodable, Equatable {
    /// Whether and how answers are cached.
    public enum Mode: String, Sendable, Equatable, CaseIterable, Decodable {
        /// No cache.
        case off
        /// Equal requests (after normalisation) share an answer.
        case exact
        /// Equal requests, and requests whose last user turn is similar enough, share an answer.
        case semantic
    }

    /// Where answers are kept.
    public enum Storage: String, Sendable, Equatable, CaseIterable {
        /// The gateway's store.
        case store
        /// This process's memory.
        case memory
    }

    /// Whose answers a caller may be served.
    public enum Namespace: String, Sendable, Equatable, CaseIterable {
        /// The caller's team, or its key when it has none.
        case team
        /// The caller's key.
        case key
        /// Every caller.
        case shared
    }

    /// The mode of models without their own.
    public var mode: Mode = .off
    /// How long answers are served, for models without their own.
    public var ttl: Duration = .seconds(3600)
    /// Where answers are kept.
    public var storage: Storage = .store
    /// The most memory holds (all entries, or those in use in front of the store).
    public var maxBytes = 256 << 20
    /// The longest answer cached.
    public var maxEntryBytes = 1 << 20
    /// Whose answers a caller may be served.
    public var namespace: Namespace = .team
    /// Semantic lookups, when configured.
    public var semantic: SemanticCacheConfiguration?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case mode, ttl, storage, semantic, namespace
        case maxBytes = "max_bytes"
        case maxEntryBytes = "max_entry_bytes"
    }

    /// Caching off.
    public init() {}

    /// Decodes the section, naming any unknown key or value.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.mode = try c.decodeChoiceIfPresent(Mode.self, forKey: .mode) ?? .off
        self.ttl = try c.decodeDurationIfPresent(forKey: .ttl, atLeast: .seconds(1)) ?? self.ttl
        self.storage = try c.decodeChoiceIfPresent(Storage.self, forKey: .storage) ?? .store
        self.namespace = try c.decodeChoiceIfPresent(Namespace.self, forKey: .namespace) ?? .team
        self.maxBytes =
            try c.decodeIfPresent(Int.self, forKey: .maxBytes, within: (1 << 20)...(1 << 40)) ?? self.maxBytes
        self.maxEntryBytes =
            try c.decodeIfPresent(Int.self, forKey: .maxEntryBytes, within: 1024...(64 << 20)) ?? self.maxEntryBytes
        self.semantic = try c.decodeIfPresent(SemanticCacheConfiguration.self, forKey: .semantic)
        if self.mode == .semantic, self.semantic == nil {
            throw ConfigurationError(
                "`cache.mode: semantic` needs `cache.semantic.embedding_model`: the model that embeds prompts"
            )
        }
    }
}

/// Semantic lookups (`cache.semantic`).
///
/// - Configuration keys:
///   - `embedding_model` (string, required): a served embeddings model, through its own routes.
///   - `threshold` (number 0–1, default 0.8): the least cosine similarity of last user turns that
///     answers from a stored entry (docs/caching.md has the measured precision).
///   - `thresholds` (map, optional): namespace → threshold, over `threshold`.
///   - `max_temperature` (number 0–2, default 1): requests sampling hotter never get or leave a
///     semantic entry (set 2 to allow all).
///   - `max_prompt_characters` (integer, default 2000): longer last user turns are not embedded (the
///     embedding model reads only their start).
///   - `max_entries` (integer, default 200,000): the most entries the in-process index holds; the
///     oldest leave first.
public struct SemanticCacheConfiguration: Sendable, Decodable, Equatable {
    /// The model that embeds last user turns.
    public var embeddingModel: String
    /// The least similarity that answers.
    public var threshold = 0.8
    /// Thresholds per namespace.
    public var thresholds: [String: Double] = [:]
    /// The hottest sampling that semantic answers serve.
    public var maxTemperature = 1.0
    /// The longest last user turn embedded.
    public var maxPromptCharacters = 2000
    /// The most entries in the index.
    public var maxEntries = 200_000

    enum CodingKeys: String, CodingKey, CaseIterable {
        case threshold, thresholds
        case embeddingModel = "embedding_model"
        case maxTemperature = "max_temperature"
        case maxPromptCharacters = "max_prompt_characters"
        case maxEntries = "max_entries"
    }

    /// Creates settings.
    public init(embeddingModel: String, threshold: Double = 0.8) {
        self.embeddingModel = embeddingModel
        self.threshold = threshold
    }

    /// Decodes the settings, checking every range.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let model = try c.decodeIfPresent(String.self, forKey: .embeddingModel), !model.isEmpty else {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "embedding_model"))` is required: an embeddings model such as text-embedding-3-small"
            )
        }
        self.embeddingModel = model
        self.threshold = try c.decodeIfPresent(Double.self, forKey: .threshold, within: 0...1) ?? self.threshold
        let thresholds = try c.decodeIfPresent([String: Double].self, forKey: .thresholds) ?? [:]
        guard thresholds.count <= 10_000 else {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "thresholds"))` lists more than 10,000 namespaces"
            )
        }
        for (namespace, value) in thresholds where !(0...1).contains(value) {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "thresholds")).\(namespace)` must be between 0 and 1; got \(value)"
            )
        }
        self.thresholds = thresholds
        self.maxTemperature = try c.decodeIfPresent(Double.self, forKey: .maxTemperature, within: 0...2) ?? 1
        self.maxPromptCharacters =
            try c.decodeIfPresent(Int.self, forKey: .maxPromptCharacters, within: 1...100_000) ?? 2000
        self.maxEntries = try c.decodeIfPresent(Int.self, forKey: .maxEntries, within: 1...10_000_000) ?? 200_000
    }

    /// The threshold for `namespace`.
    public func threshold(for namespace: String) -> Double { self.thresholds[namespace] ?? self.threshold }
}

/// A model's own cache settings (`models.NAME.cache`): `{mode, ttl}`, each over the `cache` section's.
public struct ModelCacheConfiguration: Sendable, Decodable, Equatable {
    /// The model's mode.
    public var mode: CacheConfiguration.Mode?
    /// The model's lifetime.
    public var ttl: Duration?

    enum CodingKeys: String, CodingKey, CaseIterable { case mode, ttl }

    /// Creates settings.
    public init(mode: CacheConfiguration.Mode? = nil, ttl: Duration? = nil) {
        self.mode = mode
        self.ttl = ttl
    }

    /// Decodes the settings.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.mode = try c.decodeChoiceIfPresent(CacheConfiguration.Mode.self, forKey: .mode)
        self.ttl = try c.decodeDurationIfPresent(forKey: .ttl, atLeast: .seconds(1))
    }
}

extension KeyedDecodingContainer {
    /// A string member that must name one of `Choice`'s cases; anything else names the member and the choices.
    func decodeChoiceIfPresent<Choice: RawRepresentable & CaseIterable>(
        _ type: Choice.Type,
        forKey key: Key
    ) throws -> Choice? where Choice.RawValue == String {
        guard let text = try self.decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let choice = Choice(rawValue: text) else {
            throw ConfigurationError(
                "`\(configPath(self.codingPath, key.stringValue))` is `\(text.prefix(100))`; choose one of "
                    + Choice.allCases.map(\.rawValue).joined(separator: ", ")
            )
        }
        return choice
    }
}
