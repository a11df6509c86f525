// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore
import Synchronization

/// The request log and virtual keys in memory: for `store: memory` and tests. Keeps the newest 10,000 rows.
public final class MemoryStore: RequestLogStore, KeyStore, AuditStore, SpendStore, TeamStore, QuotaStore,
    CredentialStore
{
    private let rows = Mutex<[RequestLogRecord]>([])
    private let credentials = Mutex<[String: SealedCredential]>([:])
    private let teamsByName = Mutex<[String: Team]>([:])
    private let quotas = Mutex<Quotas>(Quotas())

    /// Quota counters, holds and marks, as the SQL backends keep them.
    private struct Quotas {
        var spent: [QuotaKey: (spent: Double, updatedAt: Date)] = [:]
        var holds: [QuotaKey: [String: (amount: Double, renewedAt: Date)]] = [:]
        var marks: [String: Date] = [:]
    }
    private let keys = Mutex<[String: VirtualKey]>([:])
    private let audit = Mutex<[AuditEntry]>([])
    private let capacity: Int

    /// Creates an empty store.
    public init(capacity: Int = 10_000) { self.capacity = capacity }

    /// Appends `records`, dropping the oldest beyond capacity.
    public func append(_ records: [RequestLogRecord]) async throws {
        let capacity = self.capacity
        self.rows.withLock { rows in
            rows.append(contentsOf: records)
            if rows.count > capacity { rows.removeFirst(rows.count - capacity) }
        }
    }

    /// Matching records, newest first.
    public func records(matching query: RequestLogQuery) async throws -> [RequestLogRecord] {
        self.rows.withLock { rows in
            // A search looks at the newest `searchWindow` rows of the time range only, as in SQL.
            var windowStart: Date?
            if let window = query.searchWindow, window > 0, !(query.search ?? "").isEmpty {
                let times = rows.filter { row in
                    query.since.map { row.startedAt >= $0 } ?? true && query.before.map { row.startedAt < $0 } ?? true
                }
                .map(\.startedAt).sorted(by: >)
                windowStart = times.count >= window ? times[window - 1] : nil
            }
            return rows.filter { row in query.matches(row) && windowStart.map { row.startedAt >= $0 } ?? true }
                .sorted { ($0.startedAt, $0.id) > ($1.startedAt, $1.id) }
                .prefix(query.limit)
                .map { $0 }
        }
    }

    /// One retention step by age; the row capacity already bounds the size.
    public func purgeStep(_ policy: RequestLogRetention, limit: Int) async throws -> Int {
        self.rows.withLock { rows in
            let old = rows.prefix(limit).prefix { $0.startedAt < policy.rowsBefore }.count
            if old > 0 {
                rows.removeFirst(old)
                return old
            }
            var changed = 0
            for index in rows.indices where changed < limit && rows[index].startedAt < policy.bodiesBefore {
                guard rows[index].requestBody != nil || rows[index].responseBody != nil else { continue }
                rows[index].requestBody = nil
                rows[index].responseBody = nil
                changed += 1
            }
            return changed
        }
    }

    /// Always reachable.
    public func checkReachable() async throws {}

    /// Every virtual key.
    public func virtualKeys() async throws -> [VirtualKey] {
        self.keys.withLock { Array($0.values) }.sorted { $0.createdAt < $1.createdAt }
    }

    /// Spend grouped as `query` asks, from the rows kept.
    public func spend(_ query: SpendQuery) async throws -> [SpendRow] {
        let day = DateFormatter()
        day.locale = Locale(identifier: "en_US_POSIX")
        day.timeZone = TimeZone(identifier: "UTC")
        day.dateFormat = "yyyy-MM-dd"
        var groups: [[String?]: SpendRow] = [:]
        for row in self.rows.withLock({ $0 }) {
            guard query.since.map({ row.startedAt >= $0 }) ?? true, query.until.map({ row.startedAt < $0 }) ?? true,
                query.keyID.map({ row.keyID == $0 }) ?? true, query.team.map({ row.team == $0 }) ?? true
            else { continue }
            let values: [String?] = query.groupBy.map { dimension in
                switch dimension {
                case .team: row.team
                case .key: row.keyID ?? row.keyName
                case .model: row.model
                case .day: day.string(from: row.startedAt)
                }
            }
            var total = groups[values] ?? query.row(values: values, calls: 0, input: 0, output: 0, cost: 0)
            total.calls += 1
            total.inputTokens += row.inputTokens ?? 0
            total.outputTokens += row.outputTokens ?? 0
            total.costUSD += row.costUSD ?? 0
            total.savedUSD += row.savedUSD ?? 0
            groups[values] = total
        }
        return groups.sorted { $0.key.lexicographicallyPrecedes($1.key) { ($0 ?? "") < ($1 ?? "") } }.map(\.value)
    }

    /// Records `entry` (the newest 10,000 are kept).
    public func appendAudit(_ entry: AuditEntry) async throws {
        self.audit.withLock { entries in
            entries.append(entry)
            if entries.count > 10_000 { entries.removeFirst(entries.count - 10_000) }
        }
    }

    /// Entries newest first.
    public func auditEntries(since: Date?, limit: Int) async throws -> [AuditEntry] {
        self.audit.withLock { entries in
            Array(entries.reversed().lazy.filter { entry in since.map { entry.at >= $0 } ?? true }.prefix(limit))
        }
    }

    /// Inserts or replaces `key`.
    public func saveVirtualKey(_ key: VirtualKey) async throws { self.keys.withLock { $0[key.id] = key } }

    /// Every sealed credential.
    public func sealedCredentials() async throws -> [SealedCredential] {
        self.credentials.withLock { $0.values.sorted { ($0.team, $0.provider) < ($1.team, $1.provider) } }
    }

    /// Inserts or replaces a sealed credential.
    public func saveSealedCredential(_ credential: SealedCredential) async throws {
        self.credentials.withLock { $0[credential.team + "\u{0}" + credential.provider] = credential }
    }

    /// Removes a sealed credential.
    public func deleteSealedCredential(team: String, provider: String) async throws {
        _ = self.credentials.withLock { $0.removeValue(forKey: team + "\u{0}" + provider) }
    }

    /// Every team.
    public func teams() async throws -> [Team] { self.teamsByName.withLock { $0.values.sorted { $0.name < $1.name } } }

    /// Inserts or replaces `team`.
    public func saveTeam(_ team: Team) async throws { self.teamsByName.withLock { $0[team.name] = team } }

    /// Removes a team.
    public func deleteTeam(_ name: String) async throws { self.teamsByName.withLock { $0[name] = nil } }

    /// Adds the spend and sets this holder's hold, under one lock.
    public func exchangeQuota(
        _ key: QuotaKey,
        holder: String,
        limit: Double,
        spend: Double,
        want: Double,
        now: Date,
        staleBefore: Date
    ) async throws -> QuotaBalance {
        self.quotas.withLock { quotas in
            let spent = (quotas.spent[key]?.spent ?? 0) + spend
            quotas.spent[key] = (spent, now)
            let others = (quotas.holds[key] ?? [:]).filter { $0.key != holder && $0.value.renewedAt >= staleBefore }
                .reduce(0) { $0 + $1.value.amount }
            let held = QuotaArithmetic.grant(want: want, limit: limit, spent: spent, heldByOthers: others)
            quotas.holds[key, default: [:]][holder] = (held, now)
            return QuotaBalance(spent: spent, held: held)
        }
    }

    /// Records `mark` for `key` unless it is there already.
    public func claimQuotaMark(_ key: QuotaKey, mark: String, now: Date) async throws -> Bool {
        self.quotas.withLock { quotas in
            let id = "\(key)#\(mark)"
            guard quotas.marks[id] == nil else { return false }
            quotas.marks[id] = now
            return true
        }
    }

    /// The spend recorded for `key`, or 0.
    public func quotaSpent(_ key: QuotaKey) async throws -> Double {
        self.quotas.withLock { $0.spent[key]?.spent ?? 0 }
    }

    /// Removes stale holds and rate-limit minutes older than `before`.
    public func purgeQuotas(before: Date) async throws {
        self.quotas.withLock { quotas in
            quotas.holds = quotas.holds.compactMapValues { holders in
                let live = holders.filter { $0.value.renewedAt >= before }
                return live.isEmpty ? nil : live
            }
            quotas.spent = quotas.spent.filter { !$0.key.window.hasPrefix("r") || $0.value.updatedAt >= before }
            quotas.marks = quotas.marks.filter { $0.value >= before.addingTimeInterval(-3_000_000) }
        }
    }
}
