// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing

@testable import SwitchyardCore

/// Budget periods, rate-limit windows and their checks.
struct BudgetTests {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        calendar.firstWeekday = 2
        return calendar
    }()

    @Test("Periods match Foundation's UTC calendar over four centuries of days, leap years included")
    func periodsMatchCalendar() throws {
        let daily = try Budget(usd: 1, period: "daily")
        let weekly = try Budget(usd: 1, period: "weekly")
        let monthly = try Budget(usd: 1, period: "monthly")
        // Every 7th day from 1900 to 2300 plus the days around each month's end.
        var day = -25_567
        while day < 120_000 {
            let date = Date(timeIntervalSince1970: Double(day) * 86_400 + 43_210.5)
            let dayStart = Self.utc.startOfDay(for: date)
            #expect(daily.window(at: date).start == dayStart)
            #expect(daily.window(at: date).end == Self.utc.date(byAdding: .day, value: 1, to: dayStart))
            let week = try #require(Self.utc.dateInterval(of: .weekOfYear, for: date))
            #expect(weekly.window(at: date).start == week.start)
            #expect(weekly.window(at: date).end == week.end)
            let month = try #require(Self.utc.dateInterval(of: .month, for: date))
            #expect(monthly.window(at: date).start == month.start)
            #expect(monthly.window(at: date).end == month.end)
            day += 7 + (day % 3)
        }
    }

    @Test("Window names read as dates, and the total period never ends")
    func windowNames() throws {
        let date = Date(timeIntervalSince1970: 1_796_080_000)  // 2026-11-30T22:26:40Z, a Monday
        #expect(try Budget(usd: 1, period: "daily").window(at: date).name == "d2026-11-30")
        #expect(try Budget(usd: 1, period: "weekly").window(at: date).name == "w2026-11-30")
        #expect(try Budget(usd: 1, period: "monthly").window(at: date).name == "m2026-11")
        let total = try Budget(usd: 1, period: "total").window(at: date)
        #expect(total.name == "total" && total.end == nil && total.secondsLeft(at: date) == nil)
        let minute = RateLimits.window(at: date)
        #expect(minute.name == "r\(1_796_080_000 / 60)")
        #expect(minute.secondsLeft(at: date) == 20)
        #expect(minute.secondsLeft(at: date.addingTimeInterval(19.9)) == 1)
    }

    @Test("Bad budgets and limits are refused, naming the member")
    func validation() {
        for usd in [0, -1, .infinity, .nan, 2e9] {
            #expect(throws: PolicyError.self) { try Budget(usd: usd, period: "daily") }
        }
        #expect((try? Budget(usd: 5, period: "hourly")) == nil)
        do {
            _ = try RateLimits(rpm: 0, tpm: 5)
            Issue.record("rpm 0 was accepted")
        } catch {
            #expect(error.member == "rpm")
        }
        #expect((try? RateLimits(rpm: nil, tpm: nil)) == nil)
        #expect((try? RateLimits(rpm: 1, tpm: 1_000_000_000))?.tpm == 1_000_000_000)
    }

    @Test("A config key's budget and limits are read, and bad ones name their path")
    func configuration() throws {
        let yaml = """
            providers: {sim: {type: simulator}}
            keys:
              - {name: a, key: secret-a, team: research, budget: {usd: 5, period: weekly}, limits: {rpm: 10}}
            """
        let configuration = try GatewayConfiguration.load(yaml: yaml, environment: [:])
        #expect(configuration.keys[0].team == "research")
        #expect(configuration.keys[0].policy.budget == (try Budget(usd: 5, period: "weekly")))
        #expect(configuration.keys[0].policy.limits?.rpm == 10)
        let bad = "providers: {sim: {type: simulator}}\nkeys: [{name: a, key: k, limits: {rpm: -3}}]\n"
        #expect {
            try GatewayConfiguration.load(yaml: bad, environment: [:])
        } throws: { error in
            String(describing: error).contains("keys[0].limits")
        }
    }
}
