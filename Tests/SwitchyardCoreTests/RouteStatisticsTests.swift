// SPDX-License-Identifier: Apache-2.0

import Testing

@testable import SwitchyardCore

/// Sliding windows, percentiles, uptime, tool-call reliability and the cooldown breaker.
struct RouteStatisticsTests {
    let start = ContinuousClock.now

    func at(minutes: Double) -> ContinuousClock.Instant { self.start + .milliseconds(Int64(minutes * 60_000)) }

    @Test("Windows of 5 minutes, 30 minutes and 1 day count the calls that ended inside them")
    func windows() throws {
        let statistics = RouteStatistics(known: ["p/m"], origin: self.start)
        statistics.record(AttemptSample(route: "p/m", at: self.at(minutes: 0.5), result: .success))
        statistics.record(AttemptSample(route: "p/m", at: self.at(minutes: 100), result: .failure))
        for minute in [118.0, 119, 120] {
            statistics.record(AttemptSample(route: "p/m", at: self.at(minutes: minute), result: .success))
        }
        statistics.refresh(now: self.at(minutes: 120.5))
        let summary = try #require(statistics.state("p/m")?.summary)
        #expect(summary.windows.map(\.window) == ["5m", "30m", "1d"])
        #expect(summary.windows.map(\.calls) == [3, 4, 5])
        #expect(summary.windows.map(\.successes) == [3, 3, 4])
        #expect(summary.windows[1].successRate == 0.75)
        // Minutes with calls: 0, 100, 118, 119, 120; minute 100 had a failure.
        #expect(summary.windows[2].uptime == 0.8)
        // A day later, everything has left every window.
        statistics.refresh(now: self.at(minutes: 120 + 1441))
        #expect(statistics.state("p/m")?.summary.windows.map(\.calls) == [0, 0, 0])
        #expect(statistics.summaries().isEmpty)
    }

    @Test("Time-to-first-token percentiles and tokens per second come out within the histogram's 6%")
    func percentiles() throws {
        let statistics = RouteStatistics(known: ["p/m"], origin: self.start)
        for millis in 1...100 {
            statistics.record(
                AttemptSample(
                    route: "p/m",
                    at: self.at(minutes: 1),
                    result: .success,
                    timeToFirstToken: .milliseconds(millis * 10),
                    outputTokens: 100,
                    generationTime: .seconds(2)
                )
            )
        }
        statistics.refresh(now: self.at(minutes: 1))
        let window = try #require(statistics.state("p/m")?.summary.windows.first)
        let ttft = window.timeToFirstTokenMs
        #expect(abs((ttft.p50 ?? 0) - 500) / 500 < 0.07)
        #expect(abs((ttft.p95 ?? 0) - 950) / 950 < 0.07)
        #expect(abs((ttft.p99 ?? 0) - 990) / 990 < 0.07)
        #expect(abs((window.tokensPerSecondP50 ?? 0) - 50) / 50 < 0.07)
        let measured = try #require(statistics.state("p/m")?.measurements)
        #expect(measured.calls == 100)
        #expect(measured.timeToFirstTokenP50 == ttft.p50)
    }

    @Test("Routes beyond the known ones are tracked up to a limit, so made-up names cannot grow memory")
    func boundedRoutes() {
        let statistics = RouteStatistics(known: ["p/m"], extraRoutes: 2)
        #expect(statistics.state("p/m") != nil)
        #expect(statistics.state("p/x1") != nil)
        #expect(statistics.state("p/x2") != nil)
        #expect(statistics.state("p/x3") == nil)
        #expect(statistics.state("p/x1") != nil)
    }

    @Test("Tool calls count as valid when the name is declared and the arguments parse and match the schema")
    func toolCallReliability() throws {
        let request = """
            {"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"weather","parameters":
            {"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},
            "unit":{"enum":["c","f"]}},"required":["city"],"additionalProperties":false}}}]}
            """
        func answer(_ calls: [(String, String)]) -> [UInt8] {
            let items = calls.map { name, arguments in
                #"{"id":"c","type":"function","function":{"name":"\#(name)","arguments":\#(String(decoding: JSONText.string(arguments), as: UTF8.self))}}"#
            }
            return Array(
                #"{"choices":[{"index":0,"message":{"role":"assistant","tool_calls":[\#(items.joined(separator: ","))]}}]}"#
                    .utf8
            )
        }
        let complete = ToolCallEvidence(
            request: Array(request.utf8),
            response: answer([
                ("weather", #"{"city":"Oslo","days":3,"unit":"c"}"#),  // valid
                ("weather", #"{"days":3}"#),  // missing required city
                ("weather", #"{"city":"Oslo","days":2.5}"#),  // days not an integer
                ("weather", #"{"city":"Oslo","extra":1}"#),  // additional property
                ("weather", #"{"city":"Oslo""#),  // does not parse
                ("forecast", #"{"city":"Oslo"}"#),  // undeclared tool
            ]),
            streamed: false
        )
        #expect(ToolCallCheck.count(complete).total == 6)
        #expect(ToolCallCheck.count(complete).valid == 1)

        // A stream: the name and arguments arrive in pieces, per tool-call index.
        let events = [
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"weather","arguments":""}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"weather","arguments":"{\"unit\":\"k\"}"}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Rome\"}"}}]}}]}"#,
        ]
        let stream = events.map { "data: \($0)\n\n" }.joined() + "data: [DONE]\n\n"
        let streamed = ToolCallEvidence(request: Array(request.utf8), response: Array(stream.utf8), streamed: true)
        let counted = ToolCallCheck.count(streamed)
        #expect(counted.total == 2)
        #expect(counted.valid == 1)

        let statistics = RouteStatistics(known: ["p/m"], origin: self.start)
        statistics.record(AttemptSample(route: "p/m", at: self.at(minutes: 1), result: .success, toolCalls: complete))
        statistics.record(AttemptSample(route: "p/m", at: self.at(minutes: 1), result: .success, toolCalls: streamed))
        statistics.refresh(now: self.at(minutes: 1))
        let window = try #require(statistics.state("p/m")?.summary.windows.first)
        #expect(window.toolCalls == 8)
        #expect(window.toolCallReliability == 2.0 / 8.0)
    }

    @Test(
        "The breaker opens after enough failures in the window, lets one probe through after the cooldown, and closes on success"
    )
    func breaker() {
        let policy = CooldownPolicy(failures: 3, window: .seconds(30), duration: .seconds(60), share: 0.2)
        var breaker = CircuitBreaker()
        let t0 = self.start
        // Two failures among many successes: below the count.
        for _ in 0..<10 { breaker.record(failed: false, probe: false, now: t0, policy: policy) }
        breaker.record(failed: true, probe: false, now: t0, policy: policy)
        breaker.record(failed: true, probe: false, now: t0, policy: policy)
        #expect(breaker.peek(now: t0) == .allowed)
        // Failures spread beyond the window do not add up.
        breaker.record(failed: true, probe: false, now: t0 + .seconds(31), policy: policy)
        #expect(breaker.peek(now: t0 + .seconds(31)) == .allowed)
        breaker.record(failed: true, probe: false, now: t0 + .seconds(32), policy: policy)
        breaker.record(failed: true, probe: false, now: t0 + .seconds(33), policy: policy)
        #expect(breaker.peek(now: t0 + .seconds(33)) == .coolingDown)
        // After the cooldown one call probes; a second one meanwhile is still turned away.
        let later = t0 + .seconds(94)
        #expect(breaker.admit(now: later) == .probe)
        #expect(breaker.admit(now: later) == .coolingDown)
        // A failed probe opens it again for the whole duration.
        breaker.record(failed: true, probe: true, now: later, policy: policy)
        #expect(breaker.peek(now: later + .seconds(59)) == .coolingDown)
        #expect(breaker.admit(now: later + .seconds(60)) == .probe)
        breaker.record(failed: false, probe: true, now: later + .seconds(61), policy: policy)
        #expect(breaker.peek(now: later + .seconds(61)) == .allowed)
    }

    @Test("A busy route with rare failures is not cooled down: failures must also be a share of its calls")
    func breakerShare() {
        let policy = CooldownPolicy(failures: 5, window: .seconds(30), duration: .seconds(60), share: 0.2)
        var breaker = CircuitBreaker()
        for index in 0..<200 {
            breaker.record(failed: index % 20 == 0, probe: false, now: self.start, policy: policy)
        }
        #expect(breaker.peek(now: self.start) == .allowed)
        #expect(CooldownPolicy.off.isEnabled == false)
    }

    @Test("The affinity table forgets keys after their lifetime and stays within its capacity")
    func affinity() {
        let table = AffinityTable(capacity: 16, lifetime: .seconds(300))
        table.remember(1, route: "a", now: self.start)
        #expect(table.route(for: 1, now: self.start + .seconds(299)) == "a")
        #expect(table.route(for: 1, now: self.start + .seconds(301)) == nil)
        for key in 0..<1000 { table.remember(key, route: "r", now: self.start + .milliseconds(Int64(key))) }
        #expect(table.count <= 16)
        #expect(table.route(for: 999, now: self.start + .seconds(1)) == "r")
    }
}
