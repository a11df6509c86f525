// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One counter that every gateway instance draws from: a budget's dollars in one period, or a rate
/// limit's requests or tokens in one minute.
public struct QuotaKey: Hashable, Sendable, CustomStringConvertible {
    /// What is limited and for whom, such as `key:key_0123456789abcdef:usd` or `team:research:rpm`.
    public var name: String
    /// The window the counter covers, such as `d2026-11-30` or `m2026-11-30T23:05`.
    public var window: String

    /// Creates a key.
    public init(name: String, window: String) {
        self.name = name
        self.window = window
    }

    /// `name@window`.
    public var description: String { "\(self.name)@\(self.window)" }
}

/// A counter's state after an exchange with the store.
public struct QuotaBalance: Sendable, Equatable {
    /// What the window has used, every instance's settled spend included.
    public var spent: Double
    /// What the store now holds for the asking instance.
    public var held: Double

    /// Creates a balance.
    public init(spent: Double, held: Double) {
        self.spent = spent
        self.held = held
    }
}

/// Where quota counters live: the one place every instance agrees on (SPEC §6).
///
/// An instance does not ask the store for each call. It holds a share of a counter (a hold) and
/// draws calls from it in memory; now and then it reports what it spent and asks for a new hold.
/// The store grants a hold only from what is left after the spend and every other live hold, so the
/// spend and the holds together never pass the limit. Holds that were not renewed recently (an
/// instance that stopped) no longer count.
public protocol QuotaStore: Sendable {
    /// Adds `spend` to what `key` has used, then sets `holder`'s hold to as much of `want` as the
    /// limit leaves beside the spend and the other holders' holds renewed after `staleBefore`.
    /// Atomic: concurrent exchanges on one key, from any instance, never grant more than the limit.
    func exchangeQuota(
        _ key: QuotaKey,
        holder: String,
        limit: Double,
        spend: Double,
        want: Double,
        now: Date,
        staleBefore: Date
    ) async throws -> QuotaBalance

    /// Whether this call is the first to claim `mark` for `key` (an alert sent once per window,
    /// whichever instance notices first).
    func claimQuotaMark(_ key: QuotaKey, mark: String, now: Date) async throws -> Bool

    /// The spend recorded for `key` (0 for a window nothing was spent in).
    func quotaSpent(_ key: QuotaKey) async throws -> Double

    /// Removes holds not renewed since `before` and rate-limit windows last touched before it.
    func purgeQuotas(before: Date) async throws
}

/// The one place both store backends compute a grant, so they agree.
public enum QuotaArithmetic {
    /// The hold to grant: `want`, cut to what `limit` leaves after `spent` and `heldByOthers`, never negative.
    public static func grant(want: Double, limit: Double, spent: Double, heldByOthers: Double) -> Double {
        max(0, min(want, limit - spent - heldByOthers))
    }
}
