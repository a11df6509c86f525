// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore

/// The store's schema versions, the same numbering on SQLite and PostgreSQL.
///
/// Each migration is applied once, in order, at start. A database that has a migration this
/// binary does not know was written by a newer Switchyard: the gateway refuses to start on it
/// rather than run an older schema's queries against it.
public enum StoreSchema {
    /// Every migration's identifier, oldest first.
    public static let migrations = [
        "0001_request_log", "0002_route_reason", "0003_virtual_keys", "0004_audit_log",
        "0005_request_log_key_and_team", "0006_quotas_and_teams",
        "0007_provider_credentials", "0008_spend_daily", "0009_response_cache",
    ]

    /// Calls, tokens and cost per UTC day (days since 1970), model, key and team, kept current by
    /// triggers on `request_log` (insert, update, delete), so a spend report over whole days reads a
    /// few hundred rows instead of every call. `''` stands for none in the key columns.
    static func spendDailyTables(day: (String) -> String) -> [String] {
        [
            """
            CREATE TABLE spend_daily (day BIGINT NOT NULL, model TEXT NOT NULL, spend_key TEXT NOT NULL,
              team TEXT NOT NULL, calls BIGINT NOT NULL, input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
              cost_usd DOUBLE PRECISION NOT NULL, PRIMARY KEY (day, model, spend_key, team))
            """,
            """
            INSERT INTO spend_daily (day, model, spend_key, team, calls, input_tokens, output_tokens, cost_usd)
            SELECT \(day("started_at")), COALESCE(model, ''), COALESCE(key_id, key_name, ''), COALESCE(team, ''),
              count(*), COALESCE(sum(input_tokens), 0), COALESCE(sum(output_tokens), 0), COALESCE(sum(cost_usd), 0)
            FROM request_log GROUP BY 1, 2, 3, 4
            """,
        ]
    }

    /// Adds (`sign` `+`) or takes away (`-`) the row `row` (`NEW` or `OLD`) in `spend_daily`; with
    /// `saved`, the cache's savings too (the columns migration 0009 added).
    static func spendDailyChange(_ row: String, sign: String, day: (String) -> String, saved: Bool) -> String {
        let key =
            "day = \(day("\(row).started_at")) AND model = COALESCE(\(row).model, '') "
            + "AND spend_key = COALESCE(\(row).key_id, \(row).key_name, '') AND team = COALESCE(\(row).team, '')"
        if sign == "-" {
            return """
                UPDATE spend_daily SET calls = calls - 1, input_tokens = input_tokens - COALESCE(\(row).input_tokens, 0),
                  output_tokens = output_tokens - COALESCE(\(row).output_tokens, 0),
                  cost_usd = cost_usd - COALESCE(\(row).cost_usd, 0)\(saved ? ", saved_usd = saved_usd - COALESCE(\(row).cache_saved_usd, 0)" : "") WHERE \(key);
                """
        }
        return """
            INSERT INTO spend_daily (day, model, spend_key, team, calls, input_tokens, output_tokens, cost_usd\(saved ? ", saved_usd" : ""))
            VALUES (\(day("\(row).started_at")), COALESCE(\(row).model, ''), COALESCE(\(row).key_id, \(row).key_name, ''),
              COALESCE(\(row).team, ''), 1, COALESCE(\(row).input_tokens, 0), COALESCE(\(row).output_tokens, 0),
              COALESCE(\(row).cost_usd, 0)\(saved ? ", COALESCE(\(row).cache_saved_usd, 0)" : ""))
            ON CONFLICT (day, model, spend_key, team) DO UPDATE SET calls = spend_daily.calls + 1,
              input_tokens = spend_daily.input_tokens + excluded.input_tokens,
              output_tokens = spend_daily.output_tokens + excluded.output_tokens,
              cost_usd = spend_daily.cost_usd + excluded.cost_usd\(saved ? ", saved_usd = spend_daily.saved_usd + excluded.saved_usd" : "");
            """
    }

    /// The response cache's table (one row per exact key; `seq` grows with every write, so each
    /// instance's semantic index can ask for what is new), the request log's savings column and the
    /// rollup's.
    static func responseCacheTables(sequence: String, blob: String) -> [String] {
        [
            """
            CREATE TABLE response_cache (seq \(sequence), cache_key TEXT NOT NULL UNIQUE, namespace TEXT NOT NULL,
              model TEXT NOT NULL, provider TEXT NOT NULL, upstream_model TEXT NOT NULL, body \(blob) NOT NULL,
              usage TEXT, cost_usd DOUBLE PRECISION, created_at DOUBLE PRECISION NOT NULL,
              expires_at DOUBLE PRECISION NOT NULL, context TEXT, prompt TEXT, vector \(blob))
            """,
            "CREATE INDEX response_cache_expires_at ON response_cache (expires_at)",
            "CREATE INDEX response_cache_namespace ON response_cache (namespace, model)",
            "ALTER TABLE request_log ADD COLUMN cache_saved_usd DOUBLE PRECISION",
            "ALTER TABLE spend_daily ADD COLUMN saved_usd DOUBLE PRECISION NOT NULL DEFAULT 0",
        ]
    }

    /// The request log's columns, in insert order.
    static let requestLogColumns = """
        id, started_at, finished_at, key_name, endpoint, model, provider, upstream_model, status, stream, attempts,
        input_tokens, cached_input_tokens, output_tokens, cost_usd, latency_ms, ttft_ms, cache, error, request_body,
        response_body, route_reason, key_id, team, credential, cache_saved_usd
        """

    /// What a repeated request id updates: every column (an update, so the rollup triggers see it).
    static let requestLogUpdate = """
        ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, finished_at = excluded.finished_at,
          key_name = excluded.key_name, endpoint = excluded.endpoint, model = excluded.model,
          provider = excluded.provider, upstream_model = excluded.upstream_model, status = excluded.status,
          stream = excluded.stream, attempts = excluded.attempts, input_tokens = excluded.input_tokens,
          cached_input_tokens = excluded.cached_input_tokens, output_tokens = excluded.output_tokens,
          cost_usd = excluded.cost_usd, latency_ms = excluded.latency_ms, ttft_ms = excluded.ttft_ms,
          cache = excluded.cache, error = excluded.error, request_body = excluded.request_body,
          response_body = excluded.response_body, route_reason = excluded.route_reason,
          key_id = excluded.key_id, team = excluded.team, credential = excluded.credential,
          cache_saved_usd = excluded.cache_saved_usd
        """

    /// Quota counters (spend per window), each instance's holds on them, alerts already sent, and
    /// teams: the same statements on both backends.
    static let quotaTables = [
        """
        CREATE TABLE quota_usage (quota TEXT NOT NULL, quota_window TEXT NOT NULL,
          spent DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (quota, quota_window))
        """,
        """
        CREATE TABLE quota_holds (quota TEXT NOT NULL, quota_window TEXT NOT NULL, holder TEXT NOT NULL,
          amount DOUBLE PRECISION NOT NULL, renewed_at DOUBLE PRECISION NOT NULL,
          PRIMARY KEY (quota, quota_window, holder))
        """,
        """
        CREATE TABLE quota_marks (quota TEXT NOT NULL, quota_window TEXT NOT NULL, mark TEXT NOT NULL,
          at DOUBLE PRECISION NOT NULL, PRIMARY KEY (quota, quota_window, mark))
        """,
        "CREATE TABLE teams (name TEXT PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL, data TEXT NOT NULL)",
    ]

    /// Teams' own provider keys, sealed (``SealedCredential`` as JSON), and the credential kind of each
    /// logged call.
    static let credentialTables = [
        """
        CREATE TABLE provider_credentials (team TEXT NOT NULL, provider TEXT NOT NULL,
          created_at DOUBLE PRECISION NOT NULL, data TEXT NOT NULL, PRIMARY KEY (team, provider))
        """,
        "ALTER TABLE request_log ADD COLUMN credential TEXT",
    ]

    /// Deletes holds not renewed since the bound time, rate-limit minutes (windows `r…`) not touched
    /// since then, and alert marks older than the longest budget period (so a month's marks outlive
    /// it); budget windows stay, as the history of what was spent.
    static let quotaPurge = [
        "DELETE FROM quota_holds WHERE renewed_at < $1",
        "DELETE FROM quota_usage WHERE quota_window LIKE 'r%' AND updated_at < $1",
        "DELETE FROM quota_marks WHERE at < $1 - 3000000",
    ]

    /// A cached answer from the columns of its `response_cache` row (both backends read the same columns).
    static func cachedAnswer(
        key: String,
        namespace: String,
        model: String,
        provider: String,
        upstreamModel: String,
        body: [UInt8],
        usage: String?,
        cost: Double?,
        createdAt: Double,
        expiresAt: Double,
        context: String?,
        prompt: String?,
        vector: [UInt8]?
    ) -> CachedAnswer {
        var semantic: CachedAnswer.SemanticKey?
        if let context, let prompt, let vector = vector.flatMap(CachedAnswer.vector(fromBytes:)) {
            semantic = .init(context: context, prompt: prompt, vector: vector)
        }
        return CachedAnswer(
            key: key,
            namespace: namespace,
            model: model,
            provider: provider,
            upstreamModel: upstreamModel,
            body: body,
            usage: usage.flatMap { try? Self.value($0, as: TokenUsage.self) },
            cost: cost,
            createdAt: Date(timeIntervalSince1970: createdAt),
            expiresAt: Date(timeIntervalSince1970: expiresAt),
            semantic: semantic
        )
    }

    /// Virtual keys are kept as JSON of ``VirtualKey`` (salted hashes, never secrets) beside their id.
    static let keyEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }()

    /// Reads what ``keyEncoder`` wrote.
    static let keyDecoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }()

    /// The text of a JSON `data` column for `value`.
    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try Self.keyEncoder.encode(value), as: UTF8.self)
    }

    /// The value a JSON `data` column holds.
    static func value<Value: Decodable>(_ text: String, as type: Value.Type = Value.self) throws -> Value {
        try Self.keyDecoder.decode(Value.self, from: Data(text.utf8))
    }

    /// The error for a database that a newer binary migrated.
    static func newerThanBinary(_ unknown: some Sequence<String>, store: String) -> ConfigurationError {
        ConfigurationError(
            "`store`: \(store) was migrated by a newer Switchyard (it has \(unknown.sorted().joined(separator: ", ")), "
                + "this binary knows up to \(Self.migrations.last ?? "none")); run that version or a newer one"
        )
    }
}
