// SPDX-License-Identifier: Apache-2.0

import Foundation
import GRDB
import SwitchyardCore

/// The request log in a SQLite file (WAL mode: readers never wait for the batch writer).
public final class SQLiteStore: RequestLogStore, KeyStore, AuditStore, SpendStore, TeamStore, QuotaStore,
    CredentialStore, ResponseCacheStore
{
    let database: any DatabaseWriter

    /// Opens (creating if needed) the database at `path` and migrates it.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        self.database = try DatabasePool(path: path, configuration: configuration)
        try Self.migrate(self.database, store: "the SQLite database `\(path)`")
    }

    /// An in-memory database, for tests.
    public init() throws {
        self.database = try DatabaseQueue()
        try Self.migrate(self.database, store: "the SQLite database")
    }

    /// Applies the migrations this binary knows; refuses a database a newer binary migrated.
    static func migrate(_ database: any DatabaseWriter, store: String) throws {
        let unknown = try database.read { db in
            try Self.migrator.appliedIdentifiers(db).subtracting(StoreSchema.migrations)
        }
        guard unknown.isEmpty else { throw StoreSchema.newerThanBinary(unknown, store: store) }
        try Self.migrator.migrate(database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("0001_request_log") { db in
            try db.create(table: "request_log") { table in
                table.primaryKey("id", .text)
                table.column("started_at", .double).notNull()
                table.column("finished_at", .double).notNull()
                table.column("key_name", .text)
                table.column("endpoint", .text).notNull()
                table.column("model", .text)
                table.column("provider", .text)
                table.column("upstream_model", .text)
                table.column("status", .integer).notNull()
                table.column("stream", .boolean).notNull()
                table.column("attempts", .integer).notNull()
                table.column("input_tokens", .integer)
                table.column("cached_input_tokens", .integer)
                table.column("output_tokens", .integer)
                table.column("cost_usd", .double)
                table.column("latency_ms", .double).notNull()
                table.column("ttft_ms", .double)
                table.column("cache", .text).notNull()
                table.column("error", .text)
                table.column("request_body", .text)
                table.column("response_body", .text)
            }
            try db.create(index: "request_log_started_at", on: "request_log", columns: ["started_at"])
            try db.create(index: "request_log_model", on: "request_log", columns: ["model", "started_at"])
            try db.create(index: "request_log_key", on: "request_log", columns: ["key_name", "started_at"])
        }
        migrator.registerMigration("0002_route_reason") { db in
            try db.alter(table: "request_log") { table in table.add(column: "route_reason", .text) }
        }
        migrator.registerMigration("0003_virtual_keys") { db in
            try db.create(table: "virtual_keys") { table in
                table.primaryKey("id", .text)
                table.column("name", .text).notNull()
                table.column("team", .text)
                table.column("created_at", .double).notNull()
                table.column("data", .text).notNull()
            }
        }
        migrator.registerMigration("0004_audit_log") { db in
            try db.create(table: "audit_log") { table in
                table.primaryKey("id", .text)
                table.column("at", .double).notNull()
                table.column("data", .text).notNull()
            }
            try db.create(index: "audit_log_at", on: "audit_log", columns: ["at"])
        }
        migrator.registerMigration("0005_request_log_key_and_team") { db in
            try db.alter(table: "request_log") { table in
                table.add(column: "key_id", .text)
                table.add(column: "team", .text)
            }
            try db.create(index: "request_log_key_id", on: "request_log", columns: ["key_id", "started_at"])
            try db.create(index: "request_log_team", on: "request_log", columns: ["team", "started_at"])
        }
        migrator.registerMigration("0006_quotas_and_teams") { db in
            try db.execute(sql: StoreSchema.quotaTables.joined(separator: ";\n"))
        }
        migrator.registerMigration("0007_provider_credentials") { db in
            for statement in StoreSchema.credentialTables { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0008_spend_daily") { db in
            for statement in StoreSchema.spendDailyTables(day: Self.day) { try db.execute(sql: statement) }
            try Self.createSpendDailyTriggers(db, saved: false)
        }
        migrator.registerMigration("0009_response_cache") { db in
            for statement in StoreSchema.responseCacheTables(
                sequence: "INTEGER PRIMARY KEY AUTOINCREMENT",
                blob: "BLOB"
            ) {
                try db.execute(sql: statement)
            }
            for trigger in ["spend_daily_insert", "spend_daily_delete", "spend_daily_update"] {
                try db.execute(sql: "DROP TRIGGER \(trigger)")
            }
            try Self.createSpendDailyTriggers(db, saved: true)
        }
        return migrator
    }

    /// The triggers that keep `spend_daily` equal to the log; `saved` adds the cache's savings
    /// (migration 0009 replaces 0008's triggers with them).
    private static func createSpendDailyTriggers(_ db: Database, saved: Bool) throws {
        let add = StoreSchema.spendDailyChange("NEW", sign: "+", day: Self.day, saved: saved)
        let remove = StoreSchema.spendDailyChange("OLD", sign: "-", day: Self.day, saved: saved)
        try db.execute(sql: "CREATE TRIGGER spend_daily_insert AFTER INSERT ON request_log BEGIN \(add) END")
        try db.execute(sql: "CREATE TRIGGER spend_daily_delete AFTER DELETE ON request_log BEGIN \(remove) END")
        try db.execute(sql: "CREATE TRIGGER spend_daily_update AFTER UPDATE ON request_log BEGIN \(remove) \(add) END")
    }

    /// The UTC day (days since 1970) of a time column: truncation is the floor for times after 1970.
    static func day(_ column: String) -> String { "CAST(\(column) / 86400 AS INTEGER)" }

    /// Writes `records` in one transaction; a repeated id replaces the earlier row.
    public func append(_ records: [RequestLogRecord]) async throws {
        guard !records.isEmpty else { return }
        try await self.database.write { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO request_log (\(StoreSchema.requestLogColumns))
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    \(StoreSchema.requestLogUpdate)
                    """
            )
            for r in records {
                try statement.execute(arguments: [
                    r.id, r.startedAt.timeIntervalSince1970, r.finishedAt.timeIntervalSince1970, r.keyName, r.endpoint,
                    r.model, r.provider, r.upstreamModel, r.status, r.isStreaming, r.attempts, r.inputTokens,
                    r.cachedInputTokens, r.outputTokens, r.costUSD, r.latencyMs, r.timeToFirstTokenMs, r.cacheStatus,
                    r.error, r.requestBody, r.responseBody, r.routeReason, r.keyID, r.team, r.credential, r.savedUSD,
                ])
            }
        }
    }

    /// Reads matching records, newest first.
    public func records(matching query: RequestLogQuery) async throws -> [RequestLogRecord] {
        try await self.database.read { db in
            // Numbered parameters: the search term is used once per searched column.
            let (filter, values) = query.sqlFilter(placeholder: { "?\($0)" }, like: "LIKE")
            var arguments = Self.arguments(values)
            arguments += [query.limit]
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT * FROM request_log \(filter) ORDER BY started_at DESC, id DESC LIMIT ?",
                arguments: arguments
            )
            return rows.map(Self.record)
        }
    }

    /// One bounded retention step: old rows, then old bodies, then the oldest rows beyond the size limit.
    public func purgeStep(_ policy: RequestLogRetention, limit: Int) async throws -> Int {
        try await self.database.write { db in
            try db.execute(
                sql: """
                    DELETE FROM request_log WHERE id IN
                      (SELECT id FROM request_log WHERE started_at < ? ORDER BY started_at LIMIT ?)
                    """,
                arguments: [policy.rowsBefore.timeIntervalSince1970, limit]
            )
            if db.changesCount > 0 { return db.changesCount }
            try db.execute(
                sql: """
                    UPDATE request_log SET request_body = NULL, response_body = NULL WHERE id IN
                      (SELECT id FROM request_log WHERE started_at < ?
                         AND (request_body IS NOT NULL OR response_body IS NOT NULL) LIMIT ?)
                    """,
                arguments: [policy.bodiesBefore.timeIntervalSince1970, limit]
            )
            if db.changesCount > 0 { return db.changesCount }
            // Pages in use, not the file size: freed pages are reused, so the file stops growing at the limit.
            let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let free = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
            let used = (pages - free) * pageSize
            guard used > policy.maxBytes else { return 0 }
            let rows = try Int.fetchOne(db, sql: "SELECT count(*) FROM request_log") ?? 0
            guard rows > 0 else { return 0 }
            // About as many of the oldest rows as the excess holds, at the average row size.
            let excessRows = Int((Double(used - policy.maxBytes) / (Double(used) / Double(rows))).rounded(.up))
            try db.execute(
                sql: "DELETE FROM request_log WHERE id IN (SELECT id FROM request_log ORDER BY started_at LIMIT ?)",
                arguments: [min(limit, max(1, excessRows))]
            )
            return db.changesCount
        }
    }

    /// The first column of every row of `sql`, as text: for tests that read what is at rest.
    func rawRows(_ sql: String) async throws -> [String] {
        try await self.database.read { db in try String.fetchAll(db, sql: sql) }
    }

    /// Every virtual key.
    public func virtualKeys() async throws -> [VirtualKey] {
        try await self.database.read { db in
            try String.fetchAll(db, sql: "SELECT data FROM virtual_keys ORDER BY created_at").map {
                try StoreSchema.value($0, as: VirtualKey.self)
            }
        }
    }

    /// Inserts or replaces `key`.
    public func saveVirtualKey(_ key: VirtualKey) async throws {
        let data = try StoreSchema.json(key)
        try await self.database.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO virtual_keys (id, name, team, created_at, data) VALUES (?, ?, ?, ?, ?)",
                arguments: [key.id, key.name, key.team, key.createdAt.timeIntervalSince1970, data]
            )
        }
    }

    /// Records `entry`.
    public func appendAudit(_ entry: AuditEntry) async throws {
        let data = try StoreSchema.json(entry)
        try await self.database.write { db in
            try db.execute(
                sql: "INSERT INTO audit_log (id, at, data) VALUES (?, ?, ?)",
                arguments: [entry.id, entry.at.timeIntervalSince1970, data]
            )
        }
    }

    /// Entries newest first.
    public func auditEntries(since: Date?, limit: Int) async throws -> [AuditEntry] {
        try await self.database.read { db in
            try String.fetchAll(
                db,
                sql: "SELECT data FROM audit_log WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?",
                arguments: [since?.timeIntervalSince1970 ?? 0, limit]
            )
            .map { try StoreSchema.value($0, as: AuditEntry.self) }
        }
    }

    /// Spend grouped as `query` asks, from the request log.
    /// GRDB arguments for a query's values.
    private static func arguments(_ values: [SpendQuery.Argument]) -> StatementArguments {
        var bound = StatementArguments()
        for value in values {
            switch value {
            case .number(let number): bound += [number]
            case .text(let text): bound += [text]
            }
        }
        return bound
    }

    public func spend(_ query: SpendQuery) async throws -> [SpendRow] {
        let (sql, values) =
            query.fitsDailyRollup
            ? query.rollupSQL(
                day: "strftime('%Y-%m-%d', day * 86400, 'unixepoch')",
                placeholder: { _ in "?" },
                cast: { expression, _ in expression }
            )
            : query.sql(
                day: "strftime('%Y-%m-%d', started_at, 'unixepoch')",
                placeholder: { _ in "?" },
                cast: { expression, _ in expression }
            )
        let groups = query.groupBy
        let arguments = Self.arguments(values)
        return try await self.database.read { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row -> SpendRow in
                let count = groups.count
                var values: [String?] = []
                for index in 0..<count { values.append(row[index]) }
                let calls: Int = row[count]
                let input: Int = row[count + 1]
                let output: Int = row[count + 2]
                let cost: Double = row[count + 3]
                let saved: Double = row[count + 4]
                return query.row(values: values, calls: calls, input: input, output: output, cost: cost, saved: saved)
            }
        }
    }

    /// Every sealed credential.
    public func sealedCredentials() async throws -> [SealedCredential] {
        try await self.database.read { db in
            try String.fetchAll(db, sql: "SELECT data FROM provider_credentials ORDER BY team, provider").map {
                try StoreSchema.value($0, as: SealedCredential.self)
            }
        }
    }

    /// Inserts or replaces a sealed credential.
    public func saveSealedCredential(_ credential: SealedCredential) async throws {
        let data = try StoreSchema.json(credential)
        try await self.database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO provider_credentials (team, provider, created_at, data) VALUES (?, ?, ?, ?)
                    ON CONFLICT (team, provider) DO UPDATE SET created_at = excluded.created_at, data = excluded.data
                    """,
                arguments: [credential.team, credential.provider, credential.createdAt.timeIntervalSince1970, data]
            )
        }
    }

    /// Removes a sealed credential.
    public func deleteSealedCredential(team: String, provider: String) async throws {
        try await self.database.write { db in
            try db.execute(
                sql: "DELETE FROM provider_credentials WHERE team = ? AND provider = ?",
                arguments: [team, provider]
            )
        }
    }

    /// Every team.
    public func teams() async throws -> [Team] {
        try await self.database.read { db in
            try String.fetchAll(db, sql: "SELECT data FROM teams ORDER BY name").map {
                try StoreSchema.value($0, as: Team.self)
            }
        }
    }

    /// Inserts or replaces `team`.
    public func saveTeam(_ team: Team) async throws {
        let data = try StoreSchema.json(team)
        try await self.database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO teams (name, created_at, data) VALUES (?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET data = excluded.data
                    """,
                arguments: [team.name, team.createdAt.timeIntervalSince1970, data]
            )
        }
    }

    /// Removes a team.
    public func deleteTeam(_ name: String) async throws {
        try await self.database.write { db in try db.execute(sql: "DELETE FROM teams WHERE name = ?", arguments: [name])
        }
    }

    /// Adds the spend and sets this holder's hold, in one write transaction (SQLite runs one at a time).
    public func exchangeQuota(
        _ key: QuotaKey,
        holder: String,
        limit: Double,
        spend: Double,
        want: Double,
        now: Date,
        staleBefore: Date
    ) async throws -> QuotaBalance {
        try await self.database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO quota_usage (quota, quota_window, spent, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (quota, quota_window) DO UPDATE SET spent = spent + excluded.spent,
                      updated_at = excluded.updated_at
                    """,
                arguments: [key.name, key.window, spend, now.timeIntervalSince1970]
            )
            let spent =
                try Double.fetchOne(
                    db,
                    sql: "SELECT spent FROM quota_usage WHERE quota = ? AND quota_window = ?",
                    arguments: [key.name, key.window]
                ) ?? spend
            let others =
                try Double.fetchOne(
                    db,
                    sql: """
                        SELECT COALESCE(SUM(amount), 0) FROM quota_holds
                        WHERE quota = ? AND quota_window = ? AND holder <> ? AND renewed_at >= ?
                        """,
                    arguments: [key.name, key.window, holder, staleBefore.timeIntervalSince1970]
                ) ?? 0
            let held = QuotaArithmetic.grant(want: want, limit: limit, spent: spent, heldByOthers: others)
            try db.execute(
                sql: """
                    INSERT INTO quota_holds (quota, quota_window, holder, amount, renewed_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (quota, quota_window, holder) DO UPDATE SET amount = excluded.amount,
                      renewed_at = excluded.renewed_at
                    """,
                arguments: [key.name, key.window, holder, held, now.timeIntervalSince1970]
            )
            return QuotaBalance(spent: spent, held: held)
        }
    }

    /// Records `mark` for `key` unless it is there already.
    public func claimQuotaMark(_ key: QuotaKey, mark: String, now: Date) async throws -> Bool {
        try await self.database.write { db in
            try db.execute(
                sql:
                    "INSERT INTO quota_marks (quota, quota_window, mark, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                arguments: [key.name, key.window, mark, now.timeIntervalSince1970]
            )
            return db.changesCount == 1
        }
    }

    /// The spend recorded for `key`, or 0.
    public func quotaSpent(_ key: QuotaKey) async throws -> Double {
        try await self.database.read { db in
            try Double.fetchOne(
                db,
                sql: "SELECT spent FROM quota_usage WHERE quota = ? AND quota_window = ?",
                arguments: [key.name, key.window]
            ) ?? 0
        }
    }

    /// Removes stale holds and rate-limit minutes older than `before`.
    public func purgeQuotas(before: Date) async throws {
        try await self.database.write { db in
            for sql in StoreSchema.quotaPurge {
                try db.execute(sql: sql, arguments: [before.timeIntervalSince1970])
            }
        }
    }

    /// Runs a trivial query.
    public func checkReachable() async throws {
        _ = try await self.database.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    private static func record(_ row: Row) -> RequestLogRecord {
        var record = RequestLogRecord(
            id: row["id"],
            startedAt: Date(timeIntervalSince1970: row["started_at"]),
            finishedAt: Date(timeIntervalSince1970: row["finished_at"]),
            keyName: row["key_name"],
            endpoint: row["endpoint"],
            model: row["model"],
            provider: row["provider"],
            upstreamModel: row["upstream_model"],
            status: row["status"],
            isStreaming: row["stream"],
            attempts: row["attempts"],
            inputTokens: row["input_tokens"],
            cachedInputTokens: row["cached_input_tokens"],
            outputTokens: row["output_tokens"],
            costUSD: row["cost_usd"],
            latencyMs: row["latency_ms"],
            timeToFirstTokenMs: row["ttft_ms"],
            cacheStatus: row["cache"],
            error: row["error"],
            requestBody: row["request_body"],
            responseBody: row["response_body"]
        )
        record.routeReason = row["route_reason"]
        record.keyID = row["key_id"]
        record.team = row["team"]
        record.credential = row["credential"]
        record.savedUSD = row["cache_saved_usd"]
        return record
    }
}
