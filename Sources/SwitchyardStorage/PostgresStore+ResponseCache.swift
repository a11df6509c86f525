// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import PostgresNIO
import SwitchyardCore

extension PostgresStore {
    /// The live entry `key`.
    public func cachedAnswer(key: String, now: Date) async throws -> CachedAnswer? {
        let rows = try await self.connections.query(
            """
            SELECT cache_key, namespace, model, provider, upstream_model, body, usage, cost_usd, created_at, expires_at,
              context, prompt, vector
            FROM response_cache WHERE cache_key = \(key) AND expires_at > \(now.timeIntervalSince1970)
            """,
            logger: self.logger
        )
        for try await row in rows {
            let cells = row.makeRandomAccess()
            return StoreSchema.cachedAnswer(
                key: try cells["cache_key"].decode(String.self),
                namespace: try cells["namespace"].decode(String.self),
                model: try cells["model"].decode(String.self),
                provider: try cells["provider"].decode(String.self),
                upstreamModel: try cells["upstream_model"].decode(String.self),
                body: Array(try cells["body"].decode(ByteBuffer.self).readableBytesView),
                usage: try cells["usage"].decode(String?.self),
                cost: try cells["cost_usd"].decode(Double?.self),
                createdAt: try cells["created_at"].decode(Double.self),
                expiresAt: try cells["expires_at"].decode(Double.self),
                context: try cells["context"].decode(String?.self),
                prompt: try cells["prompt"].decode(String?.self),
                vector: try cells["vector"].decode(ByteBuffer?.self).map { Array($0.readableBytesView) }
            )
        }
        return nil
    }

    /// Replaces the entry with `answer`'s key, with a new sequence number (see the SQLite store).
    public func saveCachedAnswer(_ answer: CachedAnswer) async throws {
        let usage = try answer.usage.map { try StoreSchema.json($0) }
        let vector = answer.semantic.map { ByteBuffer(bytes: CachedAnswer.vectorBytes($0.vector)) }
        try await self.connections.withTransaction(logger: self.logger) { connection in
            try await connection.query(
                "DELETE FROM response_cache WHERE cache_key = \(answer.key)",
                logger: self.logger
            )
            try await connection.query(
                """
                INSERT INTO response_cache (cache_key, namespace, model, provider, upstream_model, body, usage, cost_usd,
                  created_at, expires_at, context, prompt, vector)
                VALUES (\(answer.key), \(answer.namespace), \(answer.model), \(answer.provider), \(answer.upstreamModel),
                  \(ByteBuffer(bytes: answer.body)), \(usage), \(answer.cost), \(answer.createdAt.timeIntervalSince1970),
                  \(answer.expiresAt.timeIntervalSince1970), \(answer.semantic?.context), \(answer.semantic?.prompt),
                  \(vector))
                """,
                logger: self.logger
            )
        }
    }

    /// Removes matching entries.
    public func deleteCachedAnswers(namespace: String?, model: String?) async throws -> Int {
        try await self.changed(
            """
            WITH gone AS (DELETE FROM response_cache
              WHERE (\(namespace)::TEXT IS NULL OR namespace = \(namespace))
                AND (\(model)::TEXT IS NULL OR model = \(model)) RETURNING 1)
            SELECT count(*)::BIGINT FROM gone
            """
        )
    }

    /// Removes up to `limit` expired entries.
    public func purgeCachedAnswers(expiredBefore now: Date, limit: Int) async throws -> Int {
        try await self.changed(
            """
            WITH gone AS (DELETE FROM response_cache WHERE seq IN
              (SELECT seq FROM response_cache WHERE expires_at <= \(now.timeIntervalSince1970) LIMIT \(limit))
              RETURNING 1)
            SELECT count(*)::BIGINT FROM gone
            """
        )
    }

    /// Live semantic entries written after `sequence`.
    public func semanticEntries(after sequence: Int64, limit: Int, now: Date) async throws -> [SemanticEntry] {
        let rows = try await self.connections.query(
            """
            SELECT seq, cache_key, namespace, model, expires_at, context, prompt, vector FROM response_cache
            WHERE seq > \(sequence) AND expires_at > \(now.timeIntervalSince1970) AND vector IS NOT NULL
            ORDER BY seq LIMIT \(limit)
            """,
            logger: self.logger
        )
        var entries: [SemanticEntry] = []
        for try await (seq, key, namespace, model, expires, context, prompt, bytes) in rows.decode(
            (Int64, String, String, String, Double, String?, String?, ByteBuffer?).self
        ) {
            guard let context, let prompt, let bytes,
                let vector = CachedAnswer.vector(fromBytes: Array(bytes.readableBytesView))
            else { continue }
            entries.append(
                SemanticEntry(
                    sequence: seq,
                    key: key,
                    namespace: namespace,
                    model: model,
                    expiresAt: Date(timeIntervalSince1970: expires),
                    semantic: .init(context: context, prompt: prompt, vector: vector)
                )
            )
        }
        return entries
    }

    /// The count a `… SELECT count(*)` statement returns.
    private func changed(_ query: PostgresQuery) async throws -> Int {
        for try await value in try await self.connections.query(query, logger: self.logger).decode(Int.self) {
            return value
        }
        return 0
    }
}
