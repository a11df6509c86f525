// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization

/// A spending cap in USD per period (SPEC §4 `budget: {usd, period}`).
public struct Budget: Sendable, Codable, Equatable {
    /// How often a budget starts again (UTC calendar periods; weeks start on Monday).
    public enum Period: String, Sendable, Codable, CaseIterable {
        /// Every day at 00:00 UTC.
        case daily
        /// Every Monday at 00:00 UTC.
        case weekly
        /// On the first of every month at 00:00 UTC.
        case monthly
        /// Never: the budget covers all time.
        case total
    }

    /// The cap.
    public var usd: Double
    /// The period.
    public var period: Period

    /// The largest budget accepted: far above any real one, small enough to stay exact in a Double.
    public static let maximumUSD = 1e9

    /// A checked budget; the message names what is wrong (the caller adds the path).
    public init(usd: Double, period: String) throws(PolicyError) {
        guard usd.isFinite, usd > 0, usd <= Self.maximumUSD else {
            throw PolicyError("`usd` must be a number above 0 and at most 1e9; got \(usd)", member: "usd")
        }
        guard let parsed = Period(rawValue: period) else {
            throw PolicyError(
                "`period` must be daily, weekly, monthly or total; got `\(period.prefix(40))`",
                member: "period"
            )
        }
        self.usd = usd
        self.period = parsed
    }

    /// The period that `date` falls in.
    public func window(at date: Date) -> QuotaWindow {
        let day = Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
        // Every call asks; the answer changes once a day at most, so it is kept per period.
        if let cached = Self.windows.withLock({ $0[self.period] }), cached.day == day { return cached.window }
        let window = self.computeWindow(day: day)
        Self.windows.withLock { $0[self.period] = (day, window) }
        return window
    }

    /// The last window computed per period, with its day.
    private static let windows = Mutex<[Period: (day: Int, window: QuotaWindow)]>([:])

    private func computeWindow(day: Int) -> QuotaWindow {
        switch self.period {
        case .daily:
            return QuotaWindow(name: "d" + CivilDate(day: day).text, start: day, end: day + 1)
        case .weekly:
            // 1970-01-01 was a Thursday: (day + 3) mod 7 is the days since Monday.
            let monday = day - ((day + 3) % 7 + 7) % 7
            return QuotaWindow(name: "w" + CivilDate(day: monday).text, start: monday, end: monday + 7)
        case .monthly:
            let civil = CivilDate(day: day)
            let first = CivilDate.day(year: civil.year, month: civil.month, day: 1)
            let next =
                civil.month == 12
                ? CivilDate.day(year: civil.year + 1, month: 1, day: 1)
                : CivilDate.day(year: civil.year, month: civil.month + 1, day: 1)
            return QuotaWindow(name: "m" + String(CivilDate(day: first).text.prefix(7)), start: first, end: next)
        case .total:
            return QuotaWindow(name: "total", start: nil, end: nil)
        }
    }
}

/// Requests and tokens per minute (SPEC §4 `limits: {rpm, tpm}`), and, on a key, per provider
/// (`providers: {NAME: {rpm, tpm}}`).
public struct RateLimits: Sendable, Codable, Equatable {
    /// Requests per minute, if limited.
    public var rpm: Int?
    /// Tokens per minute (prompt and completion), if limited.
    public var tpm: Int?
    /// Limits on the calls to one configured provider, by its name.
    public var providers: [String: RateLimits]?

    /// The largest limit accepted.
    public static let maximum = 1_000_000_000
    /// Most providers one `limits` may name.
    public static let maximumProviders = 64

    /// Checked limits; the message names what is wrong (the caller adds the path).
    public init(rpm: Int?, tpm: Int?, providers: [String: RateLimits]? = nil) throws(PolicyError) {
        for (name, value) in [("rpm", rpm), ("tpm", tpm)] {
            if let value, !(1...Self.maximum).contains(value) {
                throw PolicyError("`\(name)` must be a whole number from 1 to 1e9; got \(value)", member: name)
            }
        }
        if let providers {
            guard providers.count <= Self.maximumProviders,
                providers.allSatisfy({ !$0.key.isEmpty && $0.key.count <= 100 && $0.value.providers == nil })
            else {
                throw PolicyError(
                    "`providers` maps at most 64 provider names to {rpm, tpm}, without nesting",
                    member: "providers"
                )
            }
        }
        guard rpm != nil || tpm != nil || !(providers?.isEmpty ?? true) else {
            throw PolicyError("`limits` needs `rpm`, `tpm` or `providers`", member: nil)
        }
        self.rpm = rpm
        self.tpm = tpm
        self.providers = providers
    }

    /// The minute that `date` falls in (rate limits count in fixed one-minute windows).
    public static func window(at date: Date) -> QuotaWindow {
        let minute = Int((date.timeIntervalSince1970 / 60).rounded(.down))
        if let cached = Self.lastMinute.withLock({ $0 }), cached.minute == minute { return cached.window }
        let window = QuotaWindow(name: "r\(minute)", startSeconds: minute * 60, endSeconds: minute * 60 + 60)
        Self.lastMinute.withLock { $0 = (minute, window) }
        return window
    }

    /// The last minute's window: every limited call asks for it.
    private static let lastMinute = Mutex<(minute: Int, window: QuotaWindow)?>(nil)
}

/// What a key or a team may spend and how fast.
public struct SpendPolicy: Sendable, Codable, Equatable {
    /// USD per period, if capped.
    public var budget: Budget?
    /// Requests and tokens per minute, if limited.
    public var limits: RateLimits?

    /// Creates a policy.
    public init(budget: Budget? = nil, limits: RateLimits? = nil) {
        self.budget = budget
        self.limits = limits
    }

    /// Whether the policy limits anything.
    public var isEmpty: Bool { self.budget == nil && self.limits == nil }
}

/// A bad `budget` or `limits` value; ``member`` is the member at fault, if one is.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// `usd`, `period`, `rpm` or `tpm`.
    public var member: String?

    /// Creates an error.
    public init(_ message: String, member: String?) {
        self.message = message
        self.member = member
    }

    /// The message.
    public var description: String { self.message }
}

/// The span of time one quota counter covers.
public struct QuotaWindow: Sendable, Equatable {
    /// The counter's window name in the store.
    public var name: String
    /// When it started, if it has a start.
    public var start: Date?
    /// When it ends, if ever.
    public var end: Date?

    /// A window of whole days since 1970-01-01.
    init(name: String, start: Int?, end: Int?) {
        self.name = name
        self.start = start.map { Date(timeIntervalSince1970: Double($0) * 86_400) }
        self.end = end.map { Date(timeIntervalSince1970: Double($0) * 86_400) }
    }

    /// A window of whole seconds since 1970.
    init(name: String, startSeconds: Int, endSeconds: Int) {
        self.name = name
        self.start = Date(timeIntervalSince1970: Double(startSeconds))
        self.end = Date(timeIntervalSince1970: Double(endSeconds))
    }

    /// Whole seconds from `now` until the window ends (at least 1), or `nil` for a window without end.
    public func secondsLeft(at now: Date) -> Int? {
        guard let end = self.end else { return nil }
        return max(1, Int(end.timeIntervalSince(now).rounded(.up)))
    }
}

/// A proleptic Gregorian date from a day count since 1970-01-01, by Howard Hinnant's `civil_from_days`
/// (public domain): pure arithmetic, so the hot path needs no `Calendar`.
struct CivilDate: Equatable {
    var year: Int
    var month: Int
    var day: Int

    init(day days: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        self.day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        self.month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        self.year = yearOfEra + era * 400 + (self.month <= 2 ? 1 : 0)
    }

    /// The day count since 1970-01-01 of a date (`days_from_civil`).
    static func day(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// `YYYY-MM-DD`.
    var text: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(self.year, 4))-\(pad(self.month, 2))-\(pad(self.day, 2))"
    }
}
