// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import SwitchyardCore
import Synchronization

/// The request log in PostgreSQL, shared by every gateway instance that names the same database.
///
/// A `PostgresClient` (a connection pool) serves it. The pool starts with the first query (so the
/// gateway can load keys before its services run) and stops when ``run()``, one of the gateway's
/// services, ends. ``migrate()`` applies the schema at start, under an advisory lock so that
/// instances starting together do not migrate twice.
public final class PostgresStore: RequestLogStore, KeyStore, AuditStore, SpendStore, TeamStore, QuotaStore,
    CredentialStore, ResponseCacheStore, Service
{
    private let client: PostgresClient
    private let configuration: PostgresClient.Configuration
    private let location: PostgresLocation
    let logger: Logger
    private let pool = Mutex<Task<Void, Never>?>(nil)

    /// The migrations, in the order of ``StoreSchema/migrations``.
    static let migrations: [(id: String, sql: [String])] = [
        (
            "0001_request_log",
            [
                """
                CREATE TABLE request_log (
                  id TEXT PRIMARY KEY, started_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION NOT NULL,
                  key_name TEXT, endpoint TEXT NOT NULL, model TEXT, provider TEXT, upstream_model TEXT,
                  status INTEGER NOT NULL, stream BOOLEAN NOT NULL, attempts INTEGER NOT NULL, input_tokens BIGINT,
                  cached_input_tokens BIGINT, output_tokens BIGINT, cost_usd DOUBLE PRECISION,
                  latency_ms DOUBLE PRECISION NOT NULL, ttft_ms DOUBLE PRECISION, cache TEXT NOT NULL, error TEXT,
                  request_body TEXT, response_body TEXT)
                """,
                "CREATE INDEX request_log_started_at ON request_log (started_at)",
                "CREATE INDEX request_log_model ON request_log (model, started_at)",
                "CREATE INDEX request_log_key ON request_log (key_name, started_at)",
            ]
        ),
        ("0002_route_reason", ["ALTER TABLE request_log ADD COLUMN route_reason TEXT"]),
        (
            "0003_virtual_keys",
            [
                """
                CREATE TABLE virtual_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, team TEXT,
                  created_at DOUBLE PRECISION NOT NULL, data TEXT NOT NULL)
                """
            ]
        ),
        (
            "0004_audit_log",
            [
                "CREATE TABLE audit_log (id TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL, data TEXT NOT NULL)",
                "CREATE INDEX audit_log_at ON audit_log (at)",
            ]
        ),
        (
            "0005_request_log_key_and_team",
            [
                "ALTER TABLE request_log ADD COLUMN key_id TEXT, ADD COLUMN team TEXT",
                "CREATE INDEX request_log_key_id ON request_log (key_id, started_at)",
                "CREATE INDEX request_log_team ON request_log (team, started_at)",
            ]
        ),
        ("0006_quotas_and_teams", StoreSchema.quotaTables),
        ("0007_provider_credentials", StoreSchema.credentialTables),
        (
            "0008_spend_daily",
            StoreSchema.spendDailyTables(day: PostgresStore.day) + [
                PostgresStore.spendDailyFunction(saved: false),
                """
                CREATE TRIGGER spend_daily_rows AFTER INSERT OR UPDATE OR DELETE ON request_log
                FOR EACH ROW EXECUTE FUNCTION spend_daily_apply()
                """,
            ]
        ),
        (
            "0009_response_cache",
            StoreSchema.responseCacheTables(sequence: "BIGSERIAL PRIMARY KEY", blob: "BYTEA")
                + [PostgresStore.spendDailyFunction(saved: true)]
        ),
    ]

    /// The UTC day (days since 1970) of a time column.
    static func day(_ column: String) -> String { "floor(\(column) / 86400)::bigint" }

    /// The trigger function that keeps `spend_daily` equal to the log; `saved` adds the cache's
    /// savings (migration 0009 replaces 0008's function with it).
    static func spendDailyFunction(saved: Bool) -> String {
        let remove = StoreSchema.spendDailyChange("OLD", sign: "-", day: Self.day, saved: saved)
        let add = StoreSchema.spendDailyChange("NEW", sign: "+", day: Self.day, saved: saved)
        return """
            CREATE OR REPLACE FUNCTION spend_daily_apply() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN
              IF TG_OP IN ('UPDATE', 'DELETE') THEN \(remove) END IF;
              IF TG_OP IN ('INSERT', 'UPDATE') THEN \(add) END IF;
              RETURN NULL;
            END $body$
            """
    }

    /// A store on `location`; nothing connects until ``run()`` runs and a query is made.
    public init(location: PostgresLocation, logger: Logger) {
        let tls: PostgresClient.Configuration.TLS =
            switch location.tls {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        var configuration = PostgresClient.Configuration(
            host: location.host,
            port: location.port,
            username: location.username,
            password: location.password,
            database: location.database,
            tls: tls
        )
        configuration.options.maximumConnections = 16
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.configuration = configuration
        self.location = location
        self.logger = logger
    }

    /// Keeps the connection pool until the gateway shuts down (or the task is cancelled), then closes it.
    public func run() async throws {
        self.startPool()
        try? await gracefulShutdown()
        self.pool.withLock { $0?.cancel() }
    }

    /// Starts the pool once; every query calls it.
    private func startPool() {
        self.pool.withLock { pool in
            guard pool == nil else { return }
            let client = self.client
            pool = Task { await client.run() }
        }
    }

    /// The pool, started.
    var connections: PostgresClient {
        self.startPool()
        return self.client
    }

    /// Applies the migrations this binary knows, once, whichever instance starts first; refuses a
    /// database a newer binary migrated. Uses a connection of its own, so it can run before ``run()``.
    public func migrate(timeout: Duration = .seconds(15)) async throws {
        let client = PostgresClient(configuration: self.configuration, backgroundLogger: self.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            // The pool keeps retrying a server that is down: a start must fail instead of waiting for ever.
            do {
                try await Deadline.within(timeout) { try await self.migrate(on: client) }
            } catch is Deadline.Exceeded {
                throw ConfigurationError(
                    "`store`: cannot prepare \(self.location): no connection within \(timeout.components.seconds) s"
                )
            }
        }
    }

    private func migrate(on client: PostgresClient) async throws {
        try await client.withConnection { connection in
            // One instance migrates at a time; the lock is the connection's and ends with it.
            try await connection.query("SELECT pg_advisory_lock(7390462163)", logger: self.logger)
            do {
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS switchyard_migrations (id TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                    logger: self.logger
                )
                var applied: Set<String> = []
                for try await id in try await connection.query(
                    "SELECT id FROM switchyard_migrations",
                    logger: self.logger
                )
                .decode(String.self) {
                    applied.insert(id)
                }
                let unknown = applied.subtracting(StoreSchema.migrations)
                guard unknown.isEmpty else {
                    throw StoreSchema.newerThanBinary(unknown, store: "the PostgreSQL database \(self.location)")
                }
                for migration in Self.migrations where !applied.contains(migration.id) {
                    try await connection.withTransaction(logger: self.logger) { transaction in
                        for statement in migration.sql {
                            try await transaction.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                        }
                        try await transaction.query(
                            "INSERT INTO switchyard_migrations (id) VALUES (\(migration.id))",
                            logger: self.logger
                        )
                    }
                }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(7390462163)", logger: self.logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(7390462163)", logger: self.logger)
        }
    }

    /// Writes `records` in one transaction; a repeated id replaces the earlier row.
    public func append(_ records: [RequestLogRecord]) async throws {
        guard !records.isEmpty else { return }
        // In the order of their daily spend rows, so instances writing at once take the rows' locks
        // in one order (no deadlock between their transactions).
        let ordered = records.sorted { a, b in
            (a.startedAt.timeIntervalSince1970 / 86_400).rounded(.down)
                < (b.startedAt.timeIntervalSince1970 / 86_400).rounded(.down)
                || ((a.startedAt.timeIntervalSince1970 / 86_400).rounded(.down)
                    == (b.startedAt.timeIntervalSince1970 / 86_400).rounded(.down)
                    && (a.model ?? "", a.keyID ?? a.keyName ?? "", a.team ?? "") < (
                        b.model ?? "", b.keyID ?? b.keyName ?? "", b.team ?? ""
                    ))
        }
        try await self.connections.withTransaction(logger: self.logger) { connection in
            for r in ordered {
                try await connection.query(
                    """
                    INSERT INTO request_log (\(unescaped: StoreSchema.requestLogColumns))
                    VALUES (\(r.id), \(r.startedAt.timeIntervalSince1970), \(r.finishedAt.timeIntervalSince1970),
                      \(r.keyName), \(r.endpoint), \(r.model), \(r.provider), \(r.upstreamModel), \(r.status),
                      \(r.isStreaming), \(r.attempts), \(r.inputTokens), \(r.cachedInputTokens), \(r.outputTokens),
                      \(r.costUSD), \(r.latencyMs), \(r.timeToFirstTokenMs), \(r.cacheStatus), \(r.error),
                      \(r.requestBody), \(r.responseBody), \(r.routeReason), \(r.keyID), \(r.team), \(r.credential),
                      \(r.savedUSD))
                    \(unescaped: StoreSchema.requestLogUpdate)
                    """,
                    logger: self.logger
                )
            }
        }
    }

    /// Reads matching records, newest first.
    public func records(matching query: RequestLogQuery) async throws -> [RequestLogRecord] {
        let (filter, values) = query.sqlFilter(placeholder: { "$\($0)" }, like: "ILIKE")
        var binds = Self.bindings(values)
        binds.append(query.limit)
        let sql = """
            SELECT id, started_at, finished_at, key_name, endpoint, model, provider, upstream_model, status, stream,
              attempts, input_tokens, cached_input_tokens, output_tokens, cost_usd, latency_ms, ttft_ms, cache, error,
              request_body, response_body, route_reason, key_id, team, credential, cache_saved_usd
            FROM request_log \(filter) ORDER BY started_at DESC, id DESC LIMIT $\(binds.count)
            """
        let rows = try await self.connections.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: self.logger)
        var records: [RequestLogRecord] = []
        for try await row in rows {
            let (id, started, finished, key, endpoint, model, provider, upstream, status, stream) = try row.decode(
                (String, Double, Double, String?, String, String?, String?, String?, Int, Bool).self,
                context: .default
            )
            let cells = row.makeRandomAccess()
            var record = RequestLogRecord(
                id: id,
                startedAt: Date(timeIntervalSince1970: started),
                finishedAt: Date(timeIntervalSince1970: finished),
                keyName: key,
                endpoint: endpoint,
                model: model,
                provider: provider,
                upstreamModel: upstream,
                status: status,
                isStreaming: stream,
                attempts: try cells["attempts"].decode(Int.self),
                inputTokens: try cells["input_tokens"].decode(Int?.self),
                cachedInputTokens: try cells["cached_input_tokens"].decode(Int?.self),
                outputTokens: try cells["output_tokens"].decode(Int?.self),
                costUSD: try cells["cost_usd"].decode(Double?.self),
                latencyMs: try cells["latency_ms"].decode(Double.self),
                timeToFirstTokenMs: try cells["ttft_ms"].decode(Double?.self),
                cacheStatus: try cells["cache"].decode(String.self),
                error: try cells["error"].decode(String?.self),
                requestBody: try cells["request_body"].decode(String?.self),
                responseBody: try cells["response_body"].decode(String?.self)
            )
            record.routeReason = try cells["route_reason"].decode(String?.self)
            record.keyID = try cells["key_id"].decode(String?.self)
            record.team = try cells["team"].decode(String?.self)
            record.credential = try cells["credential"].decode(String?.self)
            record.savedUSD = try cells["cache_saved_usd"].decode(Double?.self)
            records.append(record)
        }
        return records
    }

    /// One bounded retention step: old rows, then old bodies, then the oldest rows beyond the size limit.
    public func purgeStep(_ policy: RequestLogRetention, limit: Int) async throws -> Int {
        let rowsBefore = policy.rowsBefore.timeIntervalSince1970
        var changed = try await self.count(
            """
            WITH gone AS (DELETE FROM request_log WHERE id IN
              (SELECT id FROM request_log WHERE started_at < \(rowsBefore) ORDER BY started_at LIMIT \(limit))
              RETURNING 1)
            SELECT count(*)::BIGINT FROM gone
            """
        )
        if changed > 0 { return changed }
        let bodiesBefore = policy.bodiesBefore.timeIntervalSince1970
        changed = try await self.count(
            """
            WITH cleared AS (UPDATE request_log SET request_body = NULL, response_body = NULL WHERE id IN
              (SELECT id FROM request_log WHERE started_at < \(bodiesBefore)
                 AND (request_body IS NOT NULL OR response_body IS NOT NULL) LIMIT \(limit))
              RETURNING 1)
            SELECT count(*)::BIGINT FROM cleared
            """
        )
        if changed > 0 { return changed }
        let used = try await self.count("SELECT pg_total_relation_size('request_log')::BIGINT")
        guard used > policy.maxBytes else { return 0 }
        let rows = try await self.count("SELECT count(*)::BIGINT FROM request_log")
        guard rows > 0 else { return 0 }
        // About as many of the oldest rows as the excess holds, at the average row size.
        let excessRows = Int((Double(used - policy.maxBytes) / (Double(used) / Double(rows))).rounded(.up))
        let batch = min(limit, max(1, excessRows))
        return try await self.count(
            """
            WITH gone AS (DELETE FROM request_log WHERE id IN
              (SELECT id FROM request_log ORDER BY started_at LIMIT \(batch)) RETURNING 1)
            SELECT count(*)::BIGINT FROM gone
            """
        )
    }

    /// The first column of every row of `sql`, as text: for tests that read what is at rest.
    func rawRows(_ sql: String) async throws -> [String] {
        var rows: [String] = []
        for try await value in try await self.connections.query(PostgresQuery(unsafeSQL: sql), logger: self.logger)
            .decode(String.self)
        {
            rows.append(value)
        }
        return rows
    }

    /// Every virtual key.
    public func virtualKeys() async throws -> [VirtualKey] {
        try await self.stored("SELECT data FROM virtual_keys ORDER BY created_at")
    }

    /// Inserts or replaces `key`.
    public func saveVirtualKey(_ key: VirtualKey) async throws {
        let data = try StoreSchema.json(key)
        try await self.connections.query(
            """
            INSERT INTO virtual_keys (id, name, team, created_at, data)
            VALUES (\(key.id), \(key.name), \(key.team), \(key.createdAt.timeIntervalSince1970), \(data))
            ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, team = EXCLUDED.team, data = EXCLUDED.data
            """,
            logger: self.logger
        )
    }

    /// Records `entry`.
    public func appendAudit(_ entry: AuditEntry) async throws {
        let data = try StoreSchema.json(entry)
        try await self.connections.query(
            "INSERT INTO audit_log (id, at, data) VALUES (\(entry.id), \(entry.at.timeIntervalSince1970), \(data))",
            logger: self.logger
        )
    }

    /// Entries newest first.
    public func auditEntries(since: Date?, limit: Int) async throws -> [AuditEntry] {
        let from = since?.timeIntervalSince1970 ?? 0
        return try await self.stored(
            "SELECT data FROM audit_log WHERE at >= \(from) ORDER BY at DESC, id DESC LIMIT \(limit)"
        )
    }

    /// Spend grouped as `query` asks, from the request log.
    /// Bindings for a query's values.
    private static func bindings(_ values: [SpendQuery.Argument]) -> PostgresBindings {
        var binds = PostgresBindings()
        for value in values {
            switch value {
            case .number(let number): binds.append(number)
            case .text(let text): binds.append(text)
            }
        }
        return binds
    }

    public func spend(_ query: SpendQuery) async throws -> [SpendRow] {
        let (sql, values) =
            query.fitsDailyRollup
            ? query.rollupSQL(
                day: "to_char(to_timestamp(day * 86400) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
                placeholder: { "$\($0)" },
                cast: { expression, type in "(\(expression))::\(type)" }
            )
            : query.sql(
                day: "to_char(to_timestamp(started_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
                placeholder: { "$\($0)" },
                cast: { expression, type in "(\(expression))::\(type)" }
            )
        let binds = Self.bindings(values)
        let groups = query.groupBy
        var rows: [SpendRow] = []
        for try await row in try await self.connections.query(
            PostgresQuery(unsafeSQL: sql, binds: binds),
            logger: self.logger
        ) {
            let cells = row.makeRandomAccess()
            var values: [String?] = []
            for index in groups.indices { values.append(try cells["g\(index)"].decode(String?.self)) }
            let count = groups.count
            rows.append(
                query.row(
                    values: values,
                    calls: try cells[count].decode(Int.self),
                    input: try cells[count + 1].decode(Int.self),
                    output: try cells[count + 2].decode(Int.self),
                    cost: try cells[count + 3].decode(Double.self),
                    saved: try cells[count + 4].decode(Double.self)
                )
            )
        }
        return rows
    }

    /// Every sealed credential.
    public func sealedCredentials() async throws -> [SealedCredential] {
        try await self.stored("SELECT data FROM provider_credentials ORDER BY team, provider")
    }

    /// Inserts or replaces a sealed credential.
    public func saveSealedCredential(_ credential: SealedCredential) async throws {
        let data = try StoreSchema.json(credential)
        try await self.connections.query(
            """
            INSERT INTO provider_credentials (team, provider, created_at, data)
            VALUES (\(credential.team), \(credential.provider), \(credential.createdAt.timeIntervalSince1970), \(data))
            ON CONFLICT (team, provider) DO UPDATE SET created_at = EXCLUDED.created_at, data = EXCLUDED.data
            """,
            logger: self.logger
        )
    }

    /// Removes a sealed credential.
    public func deleteSealedCredential(team: String, provider: String) async throws {
        try await self.connections.query(
            "DELETE FROM provider_credentials WHERE team = \(team) AND provider = \(provider)",
            logger: self.logger
        )
    }

    /// Every team.
    public func teams() async throws -> [Team] {
        try await self.stored("SELECT data FROM teams ORDER BY name")
    }

    /// The values of the JSON `data` column that `query` selects, in its order.
    private func stored<Value: Decodable>(_ query: PostgresQuery) async throws -> [Value] {
        var values: [Value] = []
        for try await text in try await self.connections.query(query, logger: self.logger).decode(String.self) {
            values.append(try StoreSchema.value(text))
        }
        return values
    }

    /// Inserts or replaces `team`.
    public func saveTeam(_ team: Team) async throws {
        let data = try StoreSchema.json(team)
        try await self.connections.query(
            """
            INSERT INTO teams (name, created_at, data) VALUES (\(team.name), \(team.createdAt.timeIntervalSince1970), \(data))
            ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data
            """,
            logger: self.logger
        )
    }

    /// Removes a team.
    public func deleteTeam(_ name: String) async throws {
        try await self.connections.query("DELETE FROM teams WHERE name = \(name)", logger: self.logger)
    }

    /// Adds the spend and sets this holder's hold in one transaction. The upsert of the counter row
    /// locks it first, so exchanges on one counter from every instance run one after another, and the
    /// holds are read after the lock (each statement of a READ COMMITTED transaction sees what
    /// committed before it started).
    public func exchangeQuota(
        _ key: QuotaKey,
        holder: String,
        limit: Double,
        spend: Double,
        want: Double,
        now: Date,
        staleBefore: Date
    ) async throws -> QuotaBalance {
        let logger = self.logger
        let connections = self.connections
        // A silent server must not hold calls waiting on this counter: the ledger answers them 503.
        return try await Deadline.within(Self.exchangeTimeout) {
            try await connections.withTransaction(logger: logger) { connection in
                var spent = spend
                for try await value in try await connection.query(
                    """
                    INSERT INTO quota_usage (quota, quota_window, spent, updated_at)
                    VALUES (\(key.name), \(key.window), \(spend), \(now.timeIntervalSince1970))
                    ON CONFLICT (quota, quota_window) DO UPDATE SET spent = quota_usage.spent + EXCLUDED.spent,
                      updated_at = EXCLUDED.updated_at
                    RETURNING spent
                    """,
                    logger: logger
                )
                .decode(Double.self) {
                    spent = value
                }
                var others = 0.0
                for try await value in try await connection.query(
                    """
                    SELECT COALESCE(SUM(amount), 0)::DOUBLE PRECISION FROM quota_holds
                    WHERE quota = \(key.name) AND quota_window = \(key.window) AND holder <> \(holder)
                      AND renewed_at >= \(staleBefore.timeIntervalSince1970)
                    """,
                    logger: logger
                )
                .decode(Double.self) {
                    others = value
                }
                let held = QuotaArithmetic.grant(want: want, limit: limit, spent: spent, heldByOthers: others)
                try await connection.query(
                    """
                    INSERT INTO quota_holds (quota, quota_window, holder, amount, renewed_at)
                    VALUES (\(key.name), \(key.window), \(holder), \(held), \(now.timeIntervalSince1970))
                    ON CONFLICT (quota, quota_window, holder) DO UPDATE SET amount = EXCLUDED.amount,
                      renewed_at = EXCLUDED.renewed_at
                    """,
                    logger: logger
                )
                return QuotaBalance(spent: spent, held: held)
            }
        }
    }

    /// Longest wait for one quota exchange.
    static let exchangeTimeout = Duration.seconds(5)

    /// Records `mark` for `key` unless it is there already; the unique key decides between instances.
    public func claimQuotaMark(_ key: QuotaKey, mark: String, now: Date) async throws -> Bool {
        try await self.count(
            """
            WITH claimed AS (INSERT INTO quota_marks (quota, quota_window, mark, at)
              VALUES (\(key.name), \(key.window), \(mark), \(now.timeIntervalSince1970))
              ON CONFLICT DO NOTHING RETURNING 1)
            SELECT count(*)::BIGINT FROM claimed
            """
        ) == 1
    }

    /// The spend recorded for `key`, or 0.
    public func quotaSpent(_ key: QuotaKey) async throws -> Double {
        for try await value in try await self.connections.query(
            "SELECT spent FROM quota_usage WHERE quota = \(key.name) AND quota_window = \(key.window)",
            logger: self.logger
        )
        .decode(Double.self) {
            return value
        }
        return 0
    }

    /// Removes stale holds and rate-limit minutes older than `before`.
    public func purgeQuotas(before: Date) async throws {
        for sql in StoreSchema.quotaPurge {
            var binds = PostgresBindings()
            binds.append(before.timeIntervalSince1970)
            try await self.connections.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: self.logger)
        }
    }

    /// Runs a trivial query; fails after 2 s, as the pool waits for a server that is down.
    public func checkReachable() async throws {
        try await Deadline.within(.seconds(2)) { _ = try await self.count("SELECT 1::BIGINT") }
    }

    private func count(_ query: PostgresQuery) async throws -> Int {
        for try await value in try await self.connections.query(query, logger: self.logger).decode(Int.self) {
            return value
        }
        return 0
    }
}
