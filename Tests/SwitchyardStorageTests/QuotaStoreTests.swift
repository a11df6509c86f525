// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore
import Testing

@testable import SwitchyardStorage

/// Quota counters in the store and the ledger that leases them, on SQLite and PostgreSQL.
struct QuotaStoreTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let key = QuotaKey(name: "key:key_0000000000000001:rpm", window: "r30000000")

    @Test("An exchange grants at most what the spend and other live holds leave", arguments: Backend.available)
    func exchangeArithmetic(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let quotas = try #require(store as? any QuotaStore)
            let stale = Self.now.addingTimeInterval(-30)
            var a = try await quotas.exchangeQuota(
                Self.key,
                holder: "a",
                limit: 10,
                spend: 0,
                want: 6,
                now: Self.now,
                staleBefore: stale
            )
            #expect(a == QuotaBalance(spent: 0, held: 6))
            let b = try await quotas.exchangeQuota(
                Self.key,
                holder: "b",
                limit: 10,
                spend: 0,
                want: 6,
                now: Self.now,
                staleBefore: stale
            )
            #expect(b == QuotaBalance(spent: 0, held: 4))
            // `a` reports 5 spent and asks for 3 more: only 1 is left beside b's 4.
            a = try await quotas.exchangeQuota(
                Self.key,
                holder: "a",
                limit: 10,
                spend: 5,
                want: 3,
                now: Self.now,
                staleBefore: stale
            )
            #expect(a == QuotaBalance(spent: 5, held: 1))
            // Once b's hold is stale (its instance stopped), a may have it.
            let later = Self.now.addingTimeInterval(31)
            a = try await quotas.exchangeQuota(
                Self.key,
                holder: "a",
                limit: 10,
                spend: 0,
                want: 9,
                now: later,
                staleBefore: later.addingTimeInterval(-30)
            )
            #expect(a == QuotaBalance(spent: 5, held: 5))
            #expect(try await quotas.quotaSpent(Self.key) == 5)
            #expect(try await quotas.quotaSpent(QuotaKey(name: "other", window: "r1")) == 0)
        }
    }

    @Test("Concurrent exchanges from several holders never grant past the limit", arguments: Backend.available)
    func concurrentExchanges(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let quotas = try #require(store as? any QuotaStore)
            let grants = try await withThrowingTaskGroup(of: Double.self) { group in
                for holder in 0..<24 {
                    group.addTask {
                        try await quotas.exchangeQuota(
                            Self.key,
                            holder: "h\(holder)",
                            limit: 50,
                            spend: 0,
                            want: 7,
                            now: Self.now,
                            staleBefore: Self.now.addingTimeInterval(-30)
                        ).held
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(grants == 50)
        }
    }

    @Test("A mark is claimed once per counter and window", arguments: Backend.available)
    func marks(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let quotas = try #require(store as? any QuotaStore)
            #expect(try await quotas.claimQuotaMark(Self.key, mark: "80", now: Self.now))
            #expect(try await !quotas.claimQuotaMark(Self.key, mark: "80", now: Self.now))
            #expect(try await quotas.claimQuotaMark(Self.key, mark: "95", now: Self.now))
            #expect(
                try await quotas.claimQuotaMark(QuotaKey(name: Self.key.name, window: "r2"), mark: "80", now: Self.now)
            )
        }
    }

    @Test(
        "Purging drops stale holds and old rate-limit minutes, and keeps budget periods",
        arguments: Backend.available
    )
    func purge(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let quotas = try #require(store as? any QuotaStore)
            let budget = QuotaKey(name: "team:research:usd", window: "m2027-01")
            for key in [Self.key, budget] {
                _ = try await quotas.exchangeQuota(
                    key,
                    holder: "a",
                    limit: 10,
                    spend: 2,
                    want: 3,
                    now: Self.now,
                    staleBefore: Self.now
                )
            }
            try await quotas.purgeQuotas(before: Self.now.addingTimeInterval(1))
            #expect(try await quotas.quotaSpent(Self.key) == 0)
            #expect(try await quotas.quotaSpent(budget) == 2)
            // The purged hold no longer counts: another holder may have all that is left.
            let b = try await quotas.exchangeQuota(
                budget,
                holder: "b",
                limit: 10,
                spend: 0,
                want: 100,
                now: Self.now,
                staleBefore: .distantPast
            )
            #expect(b.held == 8)
        }
    }

    @Test("Teams round-trip, replace and delete", arguments: Backend.available)
    func teams(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let teams = try #require(store as? any TeamStore)
            var team = Team(
                name: "research",
                policy: SpendPolicy(
                    budget: try Budget(usd: 25, period: "monthly"),
                    limits: try RateLimits(rpm: 600, tpm: nil)
                ),
                metadata: ["owner": "ana"],
                createdAt: Self.now
            )
            try await teams.saveTeam(team)
            try await teams.saveTeam(Team(name: "ops", createdAt: Self.now))
            #expect(try await teams.teams().map(\.name) == ["ops", "research"])
            team.policy.limits = nil
            try await teams.saveTeam(team)
            #expect(try await teams.teams().last == team)
            try await teams.deleteTeam("ops")
            #expect(try await teams.teams() == [team])
        }
    }

    @Test("One instance's ledger admits exactly the limit, then refuses", arguments: Backend.available)
    func exactOnOneInstance(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let ledger = QuotaLedger(store: try #require(store as? any QuotaStore), holder: "one")
            let demand = Self.demand(limit: 25, amount: 1)
            var granted = 0
            for _ in 0..<40 where try await ledger.reserve([demand], now: Self.now) == nil {
                granted += 1
                ledger.settle(demand, used: 1, now: Self.now)
            }
            #expect(granted == 25)
        }
    }

    @Test(
        "Two ledgers on one store share a limit: together exactly the limit, spend reported",
        arguments: Backend.available
    )
    func sharedBetweenInstances(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let quotas = try #require(store as? any QuotaStore)
            let ledgers = [QuotaLedger(store: quotas, holder: "a"), QuotaLedger(store: quotas, holder: "b")]
            let demand = Self.demand(limit: 30, amount: 1)
            let granted = try await withThrowingTaskGroup(of: Int.self) { group in
                for ledger in ledgers {
                    group.addTask {
                        var granted = 0
                        for _ in 0..<40 where try await ledger.reserve([demand], now: Self.now) == nil {
                            granted += 1
                            ledger.settle(demand, used: 1, now: Self.now)
                            // The other instance returns its idle share only when it flushes.
                            await ledger.flush(now: Self.now)
                        }
                        return granted
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(granted <= 30)
            #expect(granted >= 27)
            for ledger in ledgers { await ledger.releaseAll(now: Self.now) }
            #expect(try await quotas.quotaSpent(demand.key) == Double(granted))
        }
    }

    @Test("Settled spend reaches the store and budgets hold their true cost", arguments: Backend.available)
    func budgetSettlement(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let quotas = try #require(store as? any QuotaStore)
            let ledger = QuotaLedger(store: quotas, holder: "a")
            var demand = Self.demand(limit: 1.0, amount: 0.3)
            demand.measure = .usd
            // Reserved 0.3 each, used 0.1 each: more calls fit than the estimate alone would allow.
            var granted = 0
            for _ in 0..<20 where try await ledger.reserve([demand], now: Self.now) == nil {
                granted += 1
                ledger.settle(demand, used: 0.1, now: Self.now)
            }
            #expect(granted >= 7 && granted <= 10)
            await ledger.releaseAll(now: Self.now)
            let spent = try await quotas.quotaSpent(demand.key)
            #expect(abs(spent - Double(granted) * 0.1) < 1e-9)
            #expect(spent <= 1.0)
        }
    }

    @Test("A refused demand gives back the reservations made before it", arguments: Backend.available)
    func allOrNothing(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let ledger = QuotaLedger(store: try #require(store as? any QuotaStore), holder: "a")
            let roomy = Self.demand(limit: 100, amount: 1)
            var tight = Self.demand(limit: 1, amount: 1)
            tight.key.name = "team:research:rpm"
            #expect(try await ledger.reserve([roomy, tight], now: Self.now) == nil)
            let refused = try await ledger.reserve([roomy, tight], now: Self.now)
            #expect(refused?.key == tight.key)
            #expect(ledger.snapshot(roomy.key)?.inFlight == 1)
        }
    }

    static func demand(limit: Double, amount: Double) -> QuotaDemand {
        let window = RateLimits.window(at: Self.now)
        return QuotaDemand(
            key: QuotaKey(name: "key:key_0000000000000002:rpm", window: window.name),
            measure: .requests,
            limit: limit,
            amount: amount,
            window: window,
            owner: "key `test`"
        )
    }
}
