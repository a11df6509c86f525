// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging
import Synchronization

/// One call's claim on one quota counter.
public struct QuotaDemand: Sendable {
    /// What the counter measures, and so what a finished call settles.
    public enum Measure: String, Sendable {
        /// USD: the call's true cost.
        case usd
        /// Requests: one per call.
        case requests
        /// Tokens: the call's prompt and completion tokens.
        case tokens
    }

    /// The counter.
    public var key: QuotaKey
    /// What the counter measures.
    public var measure: Measure
    /// The counter's limit in this window.
    public var limit: Double
    /// What the call reserves before it runs: an upper estimate for budgets.
    public var amount: Double
    /// The window, for `Retry-After`.
    public var window: QuotaWindow
    /// For messages: `key team-a`, `team research`.
    public var owner: String

    /// Creates a demand.
    public init(
        key: QuotaKey,
        measure: Measure,
        limit: Double,
        amount: Double,
        window: QuotaWindow,
        owner: String
    ) {
        self.key = key
        self.measure = measure
        self.limit = limit
        self.amount = amount
        self.window = window
        self.owner = owner
    }
}

/// What a counter's spend is, as the ledger learns it.
public struct QuotaObservation: Sendable {
    /// The counter.
    public var key: QuotaKey
    /// Its limit.
    public var limit: Double
    /// Its spend, as the store last reported it.
    public var spent: Double
    /// Whether a call was just refused on it: it is used up, whatever the spend says (a reservation is
    /// an upper estimate, so the spend alone may never reach the limit).
    public var refused: Bool
}

/// Draws calls from quota counters in memory, against holds leased from a ``QuotaStore``.
///
/// A call reserves its demand from this instance's hold; only when the hold is short does it wait
/// for the store (one exchange per counter at a time, shared by every call that waits). A finished
/// call gives back its reservation and records what it really used; ``flush(now:)`` (a background
/// service, every second) reports that spend, renews busy holds and returns idle ones.
///
/// The bounds that follow (docs/decisions/0008-leased-quotas.md): the spend and every instance's
/// hold never pass a limit, so a counter is exceeded only by what calls used beyond their
/// reservation; a call can be refused while other instances hold unused shares of at most
/// ``chunkShare`` of the limit each, until they return them after ``idleAfter``.
public final class QuotaLedger: Sendable {
    /// Where the counters live.
    public let store: any QuotaStore
    /// This instance's name as a holder.
    public let holder: String
    /// What an instance asks for beyond what its calls need, as a share of the limit.
    public static let chunkShare = 1.0 / 20
    /// A hold not renewed for this long no longer counts (its instance stopped).
    public static let staleAfter: TimeInterval = 30
    /// Busy holds are renewed at least this often.
    public static let renewAfter: TimeInterval = 10
    /// A counter without calls for this long returns its hold.
    public static let idleAfter: TimeInterval = 2
    /// Told the counter's limit and spend after every exchange, and when a call is refused (budget
    /// alerts watch it).
    private let observer: (@Sendable (QuotaObservation) -> Void)?
    private let accounts = Mutex<[QuotaKey: Account]>([:])
    private let logger: Logger

    /// One counter as this instance sees it.
    private struct Account {
        var limit: Double
        var window: QuotaWindow
        /// What the store holds for this instance.
        var held = 0.0
        /// Reservations of calls still running.
        var inFlight = 0.0
        /// What finished calls used and the store has not been told.
        var unsettled = 0.0
        /// The window's spend the store last reported.
        var spent = 0.0
        var lastUse: Date
        var renewedAt = Date.distantPast
        /// The exchange under way, if one is.
        var exchange: Task<Void, any Error>?
        /// Whether the last exchange granted less than it asked for: the counter is used up.
        var exhausted = false

        var available: Double { self.held - self.inFlight - self.unsettled }
    }

    /// A ledger on `store` for the instance `holder`.
    public init(
        store: any QuotaStore,
        holder: String,
        logger: Logger = Logger(label: "switchyard.quota"),
        observer: (@Sendable (QuotaObservation) -> Void)? = nil
    ) {
        self.store = store
        self.holder = holder
        self.logger = logger
        self.observer = observer
    }

    /// Reserves every demand, or none: the first one that cannot be met is returned and the
    /// reservations made before it are given back.
    public func reserve(_ demands: [QuotaDemand], now: Date = Date()) async throws -> QuotaDemand? {
        for (index, demand) in demands.enumerated() {
            let granted: Bool
            do {
                granted = try await self.reserve(demand, now: now)
            } catch {
                for earlier in demands[..<index] { self.settle(earlier, used: 0, now: now) }
                throw error
            }
            if !granted {
                for earlier in demands[..<index] { self.settle(earlier, used: 0, now: now) }
                return demand
            }
        }
        return nil
    }

    /// Gives back `demand`'s reservation and records `used` (0 for a call that used nothing).
    public func settle(_ demand: QuotaDemand, used: Double, now: Date = Date()) {
        let used = used.isFinite ? max(0, used) : 0
        self.accounts.withLock { accounts in
            guard var account = accounts[demand.key] else { return }
            account.inFlight = Self.snapped(account.inFlight - demand.amount)
            account.unsettled += used
            account.lastUse = now
            accounts[demand.key] = account
        }
    }

    /// `value`, or 0 when it is rounding noise or below 0: sums of reservations given back leave
    /// remainders such as 5.6e-17, which would keep an idle account alive for ever.
    static func snapped(_ value: Double) -> Double {
        value < 1e-9 ? 0 : value
    }

    private enum Step {
        case granted
        case refused
        case wait(Task<Void, any Error>)
    }

    private func reserve(_ demand: QuotaDemand, now: Date) async throws -> Bool {
        var waited = false
        for _ in 0..<4 {
            let step = self.accounts.withLock { accounts -> Step in
                var account = accounts[demand.key] ?? Account(limit: demand.limit, window: demand.window, lastUse: now)
                defer { accounts[demand.key] = account }
                account.limit = demand.limit
                account.lastUse = now
                // A hold this instance could not renew for a while may already count as stale in the
                // store, which then grants it to others: draw on it no more until it is renewed.
                let holdIsFresh = now.timeIntervalSince(account.renewedAt) < Self.staleAfter - Self.renewAfter
                if holdIsFresh, account.available >= demand.amount {
                    account.inFlight += demand.amount
                    return .granted
                }
                if let exchange = account.exchange { return .wait(exchange) }
                if waited && account.exhausted {
                    self.observer?(
                        QuotaObservation(key: demand.key, limit: demand.limit, spent: account.spent, refused: true)
                    )
                    return .refused
                }
                let chunk = max(demand.amount, demand.limit * Self.chunkShare)
                let exchange = self.startExchange(
                    demand.key,
                    &account,
                    want: account.inFlight + demand.amount + chunk,
                    now: now
                )
                return .wait(exchange)
            }
            switch step {
            case .granted: return true
            case .refused: return false
            case .wait(let exchange):
                try await exchange.value
                waited = true
            }
        }
        return false
    }

    /// Starts the one exchange of `key`: reports the unsettled spend, asks for a hold of `want`.
    private func startExchange(
        _ key: QuotaKey,
        _ account: inout Account,
        want: Double,
        now: Date
    ) -> Task<Void, any Error> {
        let spend = account.unsettled
        let limit = account.limit
        let store = self.store
        let holder = self.holder
        let staleBefore = now.addingTimeInterval(-Self.staleAfter)
        let task = Task {
            let balance: QuotaBalance
            do {
                balance = try await store.exchangeQuota(
                    key,
                    holder: holder,
                    limit: limit,
                    spend: spend,
                    want: want,
                    now: now,
                    staleBefore: staleBefore
                )
            } catch {
                self.accounts.withLock { $0[key]?.exchange = nil }
                throw error
            }
            self.accounts.withLock { accounts in
                guard var account = accounts[key] else { return }
                account.unsettled = Self.snapped(account.unsettled - spend)
                account.held = balance.held
                account.spent = balance.spent
                account.renewedAt = now
                account.exhausted = balance.held < want
                account.exchange = nil
                accounts[key] = account
            }
            self.observer?(QuotaObservation(key: key, limit: limit, spent: balance.spent, refused: false))
        }
        account.exchange = task
        return task
    }

    /// Reports spend, renews the holds of busy counters and returns those of idle ones; forgets
    /// counters whose window is over and that hold nothing. Failures are logged and retried next time.
    public func flush(now: Date = Date()) async {
        let due = self.accounts.withLock { accounts -> [Task<Void, any Error>] in
            var due: [Task<Void, any Error>] = []
            for (key, var account) in accounts where account.exchange == nil {
                let ended = account.window.end.map { $0 <= now } ?? false
                let idle = ended || now.timeIntervalSince(account.lastUse) >= Self.idleAfter
                if idle && account.inFlight == 0 && account.unsettled == 0 && account.held == 0 {
                    accounts[key] = nil
                    continue
                }
                // A busy counter keeps what its calls hold plus one chunk, so a past burst's share goes back.
                let want = idle ? account.inFlight : account.inFlight + account.limit * Self.chunkShare
                let stale = now.timeIntervalSince(account.renewedAt) >= Self.renewAfter
                guard account.unsettled > 0 || (idle && account.held > want) || (stale && account.held > 0) else {
                    continue
                }
                due.append(self.startExchange(key, &account, want: want, now: now))
                accounts[key] = account
            }
            return due
        }
        for exchange in due {
            do {
                try await exchange.value
            } catch {
                self.logger.warning("quota store exchange failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Reports every unsettled spend and returns every hold: at shutdown, after the last call.
    public func releaseAll(now: Date = Date()) async {
        self.accounts.withLock { accounts in
            for key in accounts.keys { accounts[key]?.lastUse = .distantPast }
        }
        // The second pass reaches counters whose exchange was under way during the first.
        await self.flush(now: now)
        await self.flush(now: now)
    }

    /// What this instance knows of a counter: the spend the store last reported plus what is not yet
    /// reported, and what calls hold now.
    public func snapshot(_ key: QuotaKey) -> (spent: Double, inFlight: Double)? {
        self.accounts.withLock { accounts in
            accounts[key].map { ($0.spent + $0.unsettled, $0.inFlight) }
        }
    }
}
