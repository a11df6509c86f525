// SPDX-License-Identifier: Apache-2.0

import Foundation
import GRDB
import SwitchyardCore

extension SQLiteStore {
    /// The live entry `key`.
    public func cachedAnswer(key: String, now: Date) async throws -> CachedAnswer? {
        try await self.database.read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT * FROM response_cache WHERE cache_key = ? AND expires_at > ?",
                arguments: [key, now.timeIntervalSince1970]
            ).flatMap(Self.cachedAnswer)
        }
    }

    /// Replaces the entry with `answer`'s key: deleted and inserted, so it gets a new sequence number
    /// and every instance's index sees it again.
    public func saveCachedAnswer(_ answer: CachedAnswer) async throws {
        let usage = try answer.usage.map { try StoreSchema.json($0) }
        try await self.database.write { db in
            try db.execute(sql: "DELETE FROM response_cache WHERE cache_key = ?", arguments: [answer.key])
            try db.execute(
                sql: """
                    INSERT INTO response_cache (cache_key, namespace, model, provider, upstream_model, body, usage,
                      cost_usd, created_at, expires_at, context, prompt, vector)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    answer.key, answer.namespace, answer.model, answer.provider, answer.upstreamModel,
                    Data(answer.body), usage, answer.cost, answer.createdAt.timeIntervalSince1970,
                    answer.expiresAt.timeIntervalSince1970, answer.semantic?.context, answer.semantic?.prompt,
                    answer.semantic.map { Data(CachedAnswer.vectorBytes($0.vector)) },
                ]
            )
        }
    }

    /// Removes matching entries.
    public func deleteCachedAnswers(namespace: String?, model: String?) async throws -> Int {
        try await self.database.write { db in
            try db.execute(
                sql: "DELETE FROM response_cache WHERE (? IS NULL OR namespace = ?) AND (? IS NULL OR model = ?)",
                arguments: [namespace, namespace, model, model]
            )
            return db.changesCount
        }
    }

    /// Removes up to `limit` expired entries.
    public func purgeCachedAnswers(expiredBefore now: Date, limit: Int) async throws -> Int {
        try await self.database.write { db in
            try db.execute(
                sql: """
                    DELETE FROM response_cache WHERE seq IN
                      (SELECT seq FROM response_cache WHERE expires_at <= ? LIMIT ?)
                    """,
                arguments: [now.timeIntervalSince1970, limit]
            )
            return db.changesCount
        }
    }

    /// Live semantic entries written after `sequence`.
    public func semanticEntries(after sequence: Int64, limit: Int, now: Date) async throws -> [SemanticEntry] {
        try await self.database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT seq, cache_key, namespace, model, expires_at, context, prompt, vector FROM response_cache
                    WHERE seq > ? AND expires_at > ? AND vector IS NOT NULL ORDER BY seq LIMIT ?
                    """,
                arguments: [sequence, now.timeIntervalSince1970, limit]
            ).compactMap { row -> SemanticEntry? in
                let bytes: Data? = row["vector"]
                guard let context: String = row["context"], let prompt: String = row["prompt"],
                    let vector = bytes.flatMap({ CachedAnswer.vector(fromBytes: Array($0)) })
                else { return nil }
                return SemanticEntry(
                    sequence: row["seq"],
                    key: row["cache_key"],
                    namespace: row["namespace"],
                    model: row["model"],
                    expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
                    semantic: .init(context: context, prompt: prompt, vector: vector)
                )
            }
        }
    }

    private static func cachedAnswer(_ row: Row) -> CachedAnswer? {
        let body: Data = row["body"]
        let vector: Data? = row["vector"]
        return StoreSchema.cachedAnswer(
            key: row["cache_key"],
            namespace: row["namespace"],
            model: row["model"],
            provider: row["provider"],
            upstreamModel: row["upstream_model"],
            body: Array(body),
            usage: row["usage"],
            cost: row["cost_usd"],
            createdAt: row["created_at"],
            expiresAt: row["expires_at"],
            context: row["context"],
            prompt: row["prompt"],
            vector: vector.map { Array($0) }
        )
    }
}
