// SPDX-License-Identifier: Apache-2.0

import Foundation
import GRDB
import SwitchyardCore
import Testing

@testable import SwitchyardStorage

/// Virtual keys in the store: round trip, replacement, and no secret at rest.
struct KeyStoreTests {
    @Test(
        "Keys round-trip with every field; saving again replaces; the secret is never in the table",
        arguments: Backend.available
    )
    func roundTrip(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let keys = try #require(store as? any KeyStore)
            let (key, secret) = VirtualKey.create(
                name: "team-a",
                team: "research",
                role: .viewer,
                models: ["gpt-4o-mini"],
                expiresAt: Date(timeIntervalSince1970: 1_900_000_000),
                zeroDataRetention: true,
                metadata: ["owner": "ana"],
                now: Date(timeIntervalSince1970: 1_800_000_000)
            )
            try await keys.saveVirtualKey(key)
            #expect(try await keys.virtualKeys() == [key])
            var revoked = key
            revoked.revokedAt = Date(timeIntervalSince1970: 1_800_000_100)
            try await keys.saveVirtualKey(revoked)
            let stored = try await keys.virtualKeys()
            #expect(stored == [revoked])
            #expect(
                stored[0].refusal(of: secret, now: Date(timeIntervalSince1970: 1_800_000_200))
                    == "This API key was revoked."
            )
            // What the table holds: salted hashes, not the secret nor its random part.
            let raw = try await Self.rawKeyData(store)
            #expect(raw.count == 1)
            #expect(!raw[0].contains(secret))
            #expect(!raw[0].contains(String(secret.suffix(43))))
            #expect(raw[0].contains(key.secret.hash))
        }
    }

    /// The `data` column of every virtual key row, read with plain SQL.
    static func rawKeyData(_ store: any RequestLogStore) async throws -> [String] {
        if let sqlite = store as? SQLiteStore {
            return try await sqlite.rawRows("SELECT data FROM virtual_keys")
        }
        if let postgres = store as? PostgresStore {
            return try await postgres.rawRows("SELECT data FROM virtual_keys")
        }
        return []
    }
}

/// Secrets, hashes, rotation and expiry of a virtual key.
struct VirtualKeyTests {
    @Test("A secret opens only its key; revoked and expired keys are refused; ids are read from secrets")
    func secrets() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let (key, secret) = VirtualKey.create(name: "a", expiresAt: now.addingTimeInterval(60), now: now)
        #expect(secret.hasPrefix("sk-sy-key_"))
        #expect(VirtualKey.id(inSecret: secret) == key.id)
        #expect(key.refusal(of: secret, now: now) == nil)
        #expect(key.refusal(of: secret + "x", now: now) == "Invalid API key.")
        #expect(key.refusal(of: secret, now: now.addingTimeInterval(61)) == "This API key expired.")
        let (other, otherSecret) = VirtualKey.create(name: "b", now: now)
        #expect(key.refusal(of: otherSecret, now: now) != nil && other.refusal(of: secret, now: now) != nil)
        for text in [
            "sk-sy-", "sk-sy-key_zz", "sk-other", "sk-sy-key_0123456789abcdefX",
            secret.replacingOccurrences(of: "-key_", with: "-kex_"),
        ] {
            #expect(VirtualKey.id(inSecret: text) == nil)
        }
        // Two hashes of one secret differ (fresh salts) and both match it.
        let first = VirtualKey.SecretHash(secret: "s")
        let second = VirtualKey.SecretHash(secret: "s")
        #expect(first.salt != second.salt && first.hash != second.hash)
        #expect(first.matches("s") && second.matches("s") && !first.matches("t"))
    }

    @Test("Rotation: the new secret works, the old one until the grace period ends")
    func rotation() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let (key, old) = VirtualKey.create(name: "a", now: now)
        let (rotated, new) = key.rotated(grace: .seconds(600), now: now)
        #expect(rotated.id == key.id && new != old)
        #expect(rotated.refusal(of: new, now: now) == nil)
        #expect(rotated.refusal(of: old, now: now.addingTimeInterval(599)) == nil)
        #expect(rotated.refusal(of: old, now: now.addingTimeInterval(600)) == "Invalid API key.")
        let (immediate, _) = key.rotated(grace: .zero, now: now)
        #expect(immediate.refusal(of: old, now: now) == "Invalid API key.")
    }

    @Test("The registry turns a virtual key's secret into its caller, without touching the store")
    func registry() async throws {
        let store = MemoryStore()
        let registry = KeyRegistry(store: store)
        let (key, secret) = VirtualKey.create(name: "svc", team: "t1", role: .viewer, models: ["m"])
        try await registry.save(key)
        let caller = try #require(try registry.caller(for: secret))
        #expect(caller == Caller(keyName: "svc", allowedModels: ["m"], keyID: key.id, team: "t1", role: .viewer))
        #expect(try registry.caller(for: "sk-not-a-virtual-key") == nil)
        // The last character changed for certain (a random secret may already end in "A").
        let wrong = String(secret.dropLast()) + (secret.hasSuffix("A") ? "B" : "A")
        #expect(throws: GatewayError.self) { try registry.caller(for: wrong) }
        // Another instance's change arrives with the next refresh.
        let (late, lateSecret) = VirtualKey.create(name: "late")
        try await store.saveVirtualKey(late)
        #expect(throws: GatewayError.self) { try registry.caller(for: lateSecret) }
        try await registry.refresh()
        #expect(try registry.caller(for: lateSecret)?.keyName == "late")
    }
}

/// The audit log of admin actions, on every backend.
struct AuditStoreTests {
    @Test("Entries round-trip newest first, limited and filtered by time", arguments: Backend.available)
    func roundTrip(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let audit = try #require(store as? any AuditStore)
            let entries = (0..<3).map { index in
                AuditEntry(
                    actor: "master",
                    action: "key.create",
                    target: "key_\(index)",
                    detail: ["name": "n\(index)"],
                    at: Date(timeIntervalSince1970: 1_800_000_000 + Double(index))
                )
            }
            for entry in entries { try await audit.appendAudit(entry) }
            #expect(try await audit.auditEntries(since: nil, limit: 10) == entries.reversed())
            #expect(try await audit.auditEntries(since: nil, limit: 1) == [entries[2]])
            let since = Date(timeIntervalSince1970: 1_800_000_001)
            #expect(try await audit.auditEntries(since: since, limit: 10) == [entries[2], entries[1]])
        }
    }
}

/// Spend aggregated from the request log, on every backend.
struct SpendStoreTests {
    static func row(
        _ id: String,
        key: String?,
        team: String?,
        model: String,
        day: Int,
        cost: Double
    ) -> RequestLogRecord {
        var record = RequestLogStoreTests.record(
            id,
            model: model,
            key: key ?? "master",
            at: 1_798_761_600 + Double(day) * 86_400
        )
        record.keyID = key
        record.team = team
        record.costUSD = cost
        return record
    }

    @Test(
        "Spend groups by team, key, model and UTC day, and filters by key, team and time",
        arguments: Backend.available
    )
    func grouping(_ backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.append([
                Self.row("1", key: "key_a", team: "t1", model: "m1", day: 0, cost: 0.25),
                Self.row("2", key: "key_a", team: "t1", model: "m2", day: 1, cost: 0.5),
                Self.row("3", key: "key_b", team: "t1", model: "m1", day: 1, cost: 1),
                Self.row("4", key: "key_c", team: "t2", model: "m1", day: 2, cost: 2),
            ])
            let spend = try #require(store as? any SpendStore)
            let total = try await spend.spend(SpendQuery(groupBy: []))
            #expect(total == [SpendRow(calls: 4, inputTokens: 48, outputTokens: 28, costUSD: 3.75)])
            let byTeam = try await spend.spend(SpendQuery(groupBy: [.team]))
            #expect(byTeam.map(\.team) == ["t1", "t2"])
            #expect(byTeam.map(\.calls) == [3, 1])
            #expect(byTeam.map(\.costUSD) == [1.75, 2.0])
            let byKeyAndDay = try await spend.spend(SpendQuery(groupBy: [.key, .day], team: "t1"))
            #expect(
                byKeyAndDay.map { "\($0.key ?? "-") \($0.day ?? "-") \($0.calls)" } == [
                    "key_a 2027-01-01 1", "key_a 2027-01-02 1", "key_b 2027-01-02 1",
                ]
            )
            let oneKey = try await spend.spend(SpendQuery(groupBy: [.model], keyID: "key_a"))
            #expect(oneKey.map { "\($0.model ?? "-") \($0.costUSD)" } == ["m1 0.25", "m2 0.5"])
            let window = SpendQuery(
                groupBy: [],
                since: Date(timeIntervalSince1970: 1_798_761_600 + 86_400),
                until: Date(timeIntervalSince1970: 1_798_761_600 + 2 * 86_400)
            )
            #expect(try await spend.spend(window).first?.calls == 2)
        }
    }

    @Test(
        "Whole-day reports read the daily rollup, which stays equal to the log through replaced and deleted rows",
        arguments: Backend.available
    )
    func dailyRollup(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let spend = try #require(store as? any SpendStore)
            let day0 = 1_798_761_600.0
            func same(_ groupBy: [SpendDimension], keyID: String? = nil, team: String? = nil) async throws {
                let whole = SpendQuery(
                    groupBy: groupBy,
                    keyID: keyID,
                    team: team,
                    since: Date(timeIntervalSince1970: day0)
                )
                // One second earlier is not a day boundary: the report reads the log itself.
                let raw = SpendQuery(
                    groupBy: groupBy,
                    keyID: keyID,
                    team: team,
                    since: Date(timeIntervalSince1970: day0 - 1)
                )
                #expect(whole.fitsDailyRollup && !raw.fitsDailyRollup)
                let (fromRollup, fromLog) = (try await spend.spend(whole), try await spend.spend(raw))
                #expect(fromRollup.count == fromLog.count, "\(groupBy)")
                for (a, b) in zip(fromRollup, fromLog) {
                    #expect(a.calls == b.calls && a.inputTokens == b.inputTokens && a.outputTokens == b.outputTokens)
                    #expect(abs(a.costUSD - b.costUSD) < 1e-9 && a.team == b.team && a.key == b.key)
                    #expect(a.model == b.model && a.day == b.day)
                    #expect(abs(a.savedUSD - b.savedUSD) < 1e-9, "cache savings: rollup and log agree")
                }
            }
            var rows = [
                Self.row("1", key: "key_a", team: "t1", model: "m1", day: 0, cost: 0.25),
                Self.row("2", key: "key_a", team: "t1", model: "m2", day: 1, cost: 0.5),
                Self.row("3", key: "key_b", team: nil, model: "m1", day: 1, cost: 1),
                Self.row("4", key: nil, team: "t2", model: "m1", day: 2, cost: 2),
            ]
            // Cache hits: cost 0, what they saved in `cache_saved_usd` (migration 0009).
            rows[2].savedUSD = 0.75
            rows[3].savedUSD = 1.5
            try await store.append(rows)
            for groups in [[], [SpendDimension.day], [.model, .day], [.key], [.team, .key, .model, .day]] {
                try await same(groups)
            }
            try await same([.model], keyID: "key_a")
            try await same([.day], team: "t1")
            // A row written again (a retried batch) replaces the first: counted once, with its new values.
            rows[1].model = "m3"
            rows[1].costUSD = 4
            rows[1].savedUSD = 0.125
            try await store.append([rows[1]])
            try await same([.model, .day])
            let saved = try await spend.spend(SpendQuery(groupBy: [], since: Date(timeIntervalSince1970: day0)))
            #expect(abs((saved.first?.savedUSD ?? 0) - 2.375) < 1e-9)
            let byModel = try await spend.spend(SpendQuery(groupBy: [.model], since: Date(timeIntervalSince1970: day0)))
            #expect(byModel.map { "\($0.model ?? "-") \($0.calls)" } == ["m1 3", "m3 1"])
            // Retention deletes rows: the rollup follows.
            let policy = RequestLogRetention(
                rowsBefore: Date(timeIntervalSince1970: day0 + 86_400),
                bodiesBefore: Date(timeIntervalSince1970: 0),
                maxBytes: .max
            )
            while try await store.purgeStep(policy, limit: 10) > 0 {}
            try await same([.day, .model])
            #expect(try await spend.spend(SpendQuery(groupBy: [])).first?.calls == 3)
        }
    }
}
