// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization

/// Reserves each call's share of its key's and its team's budgets and rate limits before it runs,
/// and settles the true cost and tokens when it ends; a call that does not fit gets 429.
///
/// Reservations are drawn from this instance's holds in memory (``QuotaLedger``): the store is
/// asked only when a hold runs short, so a call normally waits for no database.
public struct QuotaStage: Stage {
    /// Where reservations are made.
    public let ledger: QuotaLedger
    /// The models, for cost estimates.
    public let models: ModelTable
    /// The team named by a key, for its policy.
    public let team: @Sendable (String) -> Team?
    private let keyNames = CounterNames()
    private let configuredKeyNames = CounterNames()
    private let teamNames = CounterNames()

    /// Creates the stage.
    public init(ledger: QuotaLedger, models: ModelTable, team: @escaping @Sendable (String) -> Team?) {
        self.ledger = ledger
        self.models = models
        self.team = team
    }

    /// The counter names and message label of a key or team, made once: every call of it needs them.
    struct Owner: Sendable {
        var usd: String
        var rpm: String
        var tpm: String
        var label: String

        init(counter: String, label: String) {
            self.usd = counter + ":usd"
            self.rpm = counter + ":rpm"
            self.tpm = counter + ":tpm"
            self.label = label
        }
    }

    /// ``Owner``s by key id (or configured key name), or by team name; bounded, as the names come from
    /// the store and the config.
    final class CounterNames: Sendable {
        private let owners = Mutex<[String: Owner]>([:])
        static let limit = 100_000

        func owner(_ id: String, make: () -> Owner) -> Owner {
            if let owner = self.owners.withLock({ $0[id] }) { return owner }
            let owner = make()
            self.owners.withLock { owners in
                if owners.count >= Self.limit { owners.removeAll() }
                owners[id] = owner
            }
            return owner
        }
    }

    /// Reserves, passes the call on, and settles when the reply finishes or fails.
    public func handle(_ call: Call, next: (Call) async throws -> Reply) async throws -> Reply {
        guard let caller = call.caller else { return try await next(call) }
        let now = Date()
        let demands = self.demands(call, caller: caller, now: now)
        guard !demands.isEmpty else { return try await next(call) }
        let refused: QuotaDemand?
        do {
            refused = try await self.ledger.reserve(demands, now: now)
        } catch {
            throw GatewayError(
                status: .serviceUnavailable,
                message: "Budgets and rate limits cannot be checked: the store does not answer. Retry shortly.",
                type: "api_error",
                code: "store_unavailable",
                retryAfterSeconds: 1
            )
        }
        if let refused { throw Self.refusal(refused, now: now) }
        let reservation = QuotaReservation(ledger: self.ledger, demands: demands)
        let reply: Reply
        do {
            reply = try await next(call)
        } catch {
            reservation.settle()
            throw error
        }
        return reply.onFinish { receipt in reservation.settle(receipt) }
    }

    /// The counters this call draws from: its key's, then its team's.
    func demands(_ call: Call, caller: Caller, now: Date) -> [QuotaDemand] {
        var owners: [(owner: Owner, policy: SpendPolicy)] = []
        if !caller.policy.isEmpty {
            let label = { "key `\(caller.keyName)`" }
            let owner =
                if let id = caller.keyID {
                    self.keyNames.owner(id) { Owner(counter: "key:" + id, label: label()) }
                } else {
                    self.configuredKeyNames.owner(caller.keyName) {
                        Owner(counter: "key:config/" + caller.keyName, label: label())
                    }
                }
            owners.append((owner, caller.policy))
        }
        if let name = caller.team, let team = self.team(name), !team.policy.isEmpty {
            let owner = self.teamNames.owner(name) { Owner(counter: "team:" + name, label: "team `\(name)`") }
            owners.append((owner, team.policy))
        }
        guard !owners.isEmpty else { return [] }
        // The estimate resolves the model's routes: only budgets and token limits need it.
        var estimate: CallEstimate?
        func estimated() -> CallEstimate {
            if let estimate { return estimate }
            let made = CallEstimate(call, models: self.models)
            estimate = made
            return made
        }
        var demands: [QuotaDemand] = []
        demands.reserveCapacity(owners.count * 3)
        for (owner, policy) in owners {
            if let limits = policy.limits {
                let minute = RateLimits.window(at: now)
                if let rpm = limits.rpm {
                    demands.append(
                        QuotaDemand(
                            key: QuotaKey(name: owner.rpm, window: minute.name),
                            measure: .requests,
                            limit: Double(rpm),
                            amount: 1,
                            window: minute,
                            owner: owner.label
                        )
                    )
                }
                if let tpm = limits.tpm {
                    demands.append(
                        QuotaDemand(
                            key: QuotaKey(name: owner.tpm, window: minute.name),
                            measure: .tokens,
                            limit: Double(tpm),
                            amount: Double(min(estimated().tokens, tpm)),
                            window: minute,
                            owner: owner.label
                        )
                    )
                }
            }
            if let budget = policy.budget {
                let period = budget.window(at: now)
                demands.append(
                    QuotaDemand(
                        key: QuotaKey(name: owner.usd, window: period.name),
                        measure: .usd,
                        limit: budget.usd,
                        amount: estimated().costUSD,
                        window: period,
                        owner: owner.label
                    )
                )
            }
        }
        return demands
    }

    /// The 429 for a demand that did not fit.
    static func refusal(_ demand: QuotaDemand, now: Date) -> GatewayError {
        let retry = demand.window.secondsLeft(at: now)
        let until = demand.window.end.map { " until \($0.formatted(.iso8601))" } ?? ""
        switch demand.measure {
        case .usd:
            return GatewayError(
                status: .tooManyRequests,
                message: "The budget of \(demand.owner) (USD \(demand.limit)) is used up\(until); "
                    + "this call could cost up to USD \(Self.dollars(demand.amount)).",
                type: "insufficient_quota",
                code: "budget_exceeded",
                retryAfterSeconds: retry
            )
        case .requests, .tokens:
            let unit = demand.measure == .requests ? "requests" : "tokens"
            return GatewayError(
                status: .tooManyRequests,
                message: "Rate limit of \(demand.owner) reached: \(Int(demand.limit)) \(unit) per minute. "
                    + "Retry after \(retry ?? 1) s.",
                type: "rate_limit_error",
                code: "rate_limit_exceeded",
                retryAfterSeconds: retry
            )
        }
    }

    private static func dollars(_ value: Double) -> String {
        String(format: "%.6f", value)
    }
}
