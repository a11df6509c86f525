// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization

/// Live statistics per route over sliding windows of 5 minutes, 30 minutes and 1 day, plus each
/// route's calls in flight and its cooldown state.
///
/// Recording is off the hot path: an attempt's outcome is appended to a bounded queue under a short
/// lock, and ``refresh(now:)`` (every second, from a background service) folds the queue into
/// per-minute counts and histograms and publishes a summary per route that strategies read.
/// Tool-call checks (parsing arguments against the declared schema) run there too.
///
/// Memory is bounded: routes known at start are tracked, plus at most `extraRoutes` others
/// (`provider/model` names a client makes up are not tracked beyond that), and each route keeps
/// 1,440 minute counters and 79 pairs of fixed-size histograms.
public final class RouteStatistics: Sendable {
    /// Longest queue of unfolded samples; beyond it samples are dropped and counted.
    public static let queueLimit = 100_000

    /// The windows reported, shortest first.
    public static let windows: [(name: String, minutes: Int)] = [("5m", 5), ("30m", 30), ("1d", 1440)]

    private let origin: ContinuousClock.Instant
    private let extraRoutes: Int
    private let states: Mutex<(known: [String: RouteState], extra: Int)>
    private let queue = Mutex<(samples: [AttemptSample], dropped: Int)>(([], 0))
    private let histories = Mutex<[String: RouteHistory]>([:])

    /// Creates statistics for the routes labelled `known` and up to `extraRoutes` more.
    public init(known: some Sequence<String> = [], extraRoutes: Int = 256, origin: ContinuousClock.Instant = .now) {
        self.origin = origin
        self.extraRoutes = extraRoutes
        var states: [String: RouteState] = [:]
        for label in known { states[label] = RouteState(label: label) }
        self.states = Mutex((states, 0))
    }

    /// The live state of the route labelled `label`; `nil` when it is not tracked.
    public func state(_ label: String) -> RouteState? {
        self.states.withLock { states in
            if let state = states.known[label] { return state }
            guard states.extra < self.extraRoutes else { return nil }
            let state = RouteState(label: label)
            states.known[label] = state
            states.extra += 1
            return state
        }
    }

    /// Queues an attempt's outcome for the next refresh.
    public func record(_ sample: AttemptSample) {
        self.queue.withLock { queue in
            guard queue.samples.count < Self.queueLimit else {
                queue.dropped += 1
                return
            }
            queue.samples.append(sample)
        }
    }

    /// Samples dropped because the queue was full.
    public var droppedSamples: Int { self.queue.withLock { $0.dropped } }

    /// Folds the queued samples in and publishes fresh summaries.
    public func refresh(now: ContinuousClock.Instant = .now) {
        let samples = self.queue.withLock { queue in
            let taken = queue.samples
            queue.samples.removeAll(keepingCapacity: true)
            return taken
        }
        let minute = self.minute(of: now)
        let states = self.states.withLock { $0.known }
        self.histories.withLock { histories in
            for sample in samples where states[sample.route] != nil {
                histories[sample.route, default: RouteHistory()].add(sample, minute: self.minute(of: sample.at))
            }
            for (label, history) in histories {
                var summary = history.summary(at: minute)
                summary.route = label
                states[label]?.publish(summary)
            }
        }
    }

    /// Every route with calls in the last day, by label.
    public func summaries() -> [RouteSummary] {
        let states = self.states.withLock { $0.known }
        return states.values.compactMap { state in
            let summary = state.summary
            return summary.windows.last.map { $0.calls > 0 } == true || state.inFlight > 0 ? summary : nil
        }
        .sorted { $0.route < $1.route }
    }

    /// The route's figures over time, for sparklines: one point per minute over the 5- and
    /// 30-minute windows, one per half hour over the day, oldest first; empty for an untracked route.
    public func trends(_ label: String, now: ContinuousClock.Instant = .now) -> [String: [TrendPoint]] {
        let minute = self.minute(of: now)
        guard let history = self.histories.withLock({ $0[label] }) else { return [:] }
        return [
            "5m": history.trend(at: minute, minutes: 5, step: 1),
            "30m": history.trend(at: minute, minutes: 30, step: 1),
            "1d": history.trend(at: minute, minutes: 1440, step: RouteHistory.coarseMinutes),
        ]
    }

    private func minute(of instant: ContinuousClock.Instant) -> Int {
        let elapsed = instant - self.origin
        return elapsed < .zero ? 0 : Int(elapsed.components.seconds / 60)
    }
}

/// One attempt's outcome, as the statistics count it.
public struct AttemptSample: Sendable {
    /// How the attempt counts.
    public enum Result: Sendable {
        /// The route answered.
        case success
        /// The route failed (status, timeout, connection, broken stream).
        case failure
    }

    /// The route's label.
    public var route: String
    /// When the attempt ended.
    public var at: ContinuousClock.Instant
    /// How it ended.
    public var result: Result
    /// From the attempt's start to its first token (the whole answer, for a complete body).
    public var timeToFirstToken: Duration?
    /// Output tokens, if reported.
    public var outputTokens: Int?
    /// Time the output took: from the first token to the end for a stream, the whole attempt otherwise.
    public var generationTime: Duration?
    /// The request and answer, when the request declared tools, for the tool-call check.
    public var toolCalls: ToolCallEvidence?

    /// Creates a sample.
    public init(
        route: String,
        at: ContinuousClock.Instant = .now,
        result: Result,
        timeToFirstToken: Duration? = nil,
        outputTokens: Int? = nil,
        generationTime: Duration? = nil,
        toolCalls: ToolCallEvidence? = nil
    ) {
        self.route = route
        self.at = at
        self.result = result
        self.timeToFirstToken = timeToFirstToken
        self.outputTokens = outputTokens
        self.generationTime = generationTime
        self.toolCalls = toolCalls
    }

    /// Output tokens per second, when both are known and meaningful.
    var tokensPerSecond: Double? {
        guard let tokens = self.outputTokens, tokens > 0, let time = self.generationTime, time > .zero else {
            return nil
        }
        return Double(tokens) / (time.milliseconds / 1000)
    }
}

/// A route's live state: calls in flight, cooldown, and the latest published summary.
public final class RouteState: Sendable {
    /// `provider/model`.
    public let label: String
    private let inFlightCount = Atomic<Int>(0)
    private let breaker = Mutex(CircuitBreaker())
    /// The last published summary, and what strategies read from it (derived once per refresh).
    private let latest: Mutex<(summary: RouteSummary, measurements: RouteMeasurements)>

    init(label: String) {
        self.label = label
        self.latest = Mutex((RouteSummary(route: label), RouteMeasurements()))
    }

    /// Calls on the route right now.
    public var inFlight: Int { self.inFlightCount.load(ordering: .relaxed) }

    /// The latest summary, with the current in-flight count and cooldown state.
    public var summary: RouteSummary {
        var summary = self.latest.withLock { $0.summary }
        summary.inFlight = self.inFlight
        summary.cooldown = self.breakerPhase(now: .now)
        return summary
    }

    /// What strategies read: the shortest window that has calls.
    public var measurements: RouteMeasurements { self.latest.withLock { $0.measurements } }

    func publish(_ summary: RouteSummary) {
        var measurements = RouteMeasurements()
        if let window = summary.windows.first(where: { $0.calls > 0 }) {
            measurements = RouteMeasurements(
                calls: window.calls,
                timeToFirstTokenP50: window.timeToFirstTokenMs.p50,
                timeToFirstTokenP95: window.timeToFirstTokenMs.p95,
                tokensPerSecondP50: window.tokensPerSecondP50,
                successRate: window.successRate,
                toolCallReliability: window.toolCallReliability
            )
        }
        self.latest.withLock { $0 = (summary, measurements) }
    }

    /// Marks a call started on the route; the lease ends it.
    func begin() { self.inFlightCount.wrappingAdd(1, ordering: .relaxed) }
    /// Marks a call ended.
    func end() { self.inFlightCount.wrappingSubtract(1, ordering: .relaxed) }

    /// The breaker's admission without taking a probe.
    func peekAdmission(now: ContinuousClock.Instant) -> CircuitBreaker.Admission {
        self.breaker.withLock { $0.peek(now: now) }
    }

    /// The breaker's admission for a call about to start.
    func admit(now: ContinuousClock.Instant) -> CircuitBreaker.Admission {
        self.breaker.withLock { $0.admit(now: now) }
    }

    /// Records a call's outcome with the breaker.
    func recordOutcome(failed: Bool, probe: Bool, policy: CooldownPolicy, now: ContinuousClock.Instant = .now) {
        self.breaker.withLock { $0.record(failed: failed, probe: probe, now: now, policy: policy) }
    }

    /// Frees a probe whose outcome will not come.
    func releaseProbe() { self.breaker.withLock { $0.releaseProbe() } }

    private func breakerPhase(now: ContinuousClock.Instant) -> String {
        switch self.breaker.withLock({ $0.phase }) {
        case .closed: "closed"
        case .open(let until): now >= until ? "half-open" : "open"
        case .halfOpen: "half-open"
        }
    }
}

/// A route's statistics, as `GET /admin/stats` and `/v1/models/{id}` show them.
public struct RouteSummary: Sendable, Encodable, Equatable {
    /// `provider/model`.
    public var route: String
    /// Calls in flight now.
    public var inFlight = 0
    /// `closed`, `open` or `half-open`.
    public var cooldown = "closed"
    /// One entry per window in ``RouteStatistics/windows``.
    public var windows: [WindowStatistics] = []

    enum CodingKeys: String, CodingKey {
        case route, cooldown, windows
        case inFlight = "in_flight"
    }
}

/// A route's figures over one window.
public struct WindowStatistics: Sendable, Encodable, Equatable {
    /// `5m`, `30m` or `1d`.
    public var window: String
    /// Attempts that ended in the window.
    public var calls = 0
    /// Of those, successful.
    public var successes = 0
    /// Successes over calls.
    public var successRate: Double?
    /// Share of minutes with calls that had successes and no failures.
    public var uptime: Double?
    /// Time to first token percentiles, milliseconds.
    public var timeToFirstTokenMs = Percentiles()
    /// Median output tokens per second.
    public var tokensPerSecondP50: Double?
    /// Tool calls checked.
    public var toolCalls = 0
    /// Share of tool calls whose arguments parsed and matched the declared schema.
    public var toolCallReliability: Double?

    /// Empty figures for the window `window`.
    public init(window: String) { self.window = window }

    /// P50, P95 and P99.
    public struct Percentiles: Sendable, Encodable, Equatable {
        /// Median.
        public var p50: Double?
        /// 95th percentile.
        public var p95: Double?
        /// 99th percentile.
        public var p99: Double?
    }

    enum CodingKeys: String, CodingKey {
        case window, calls, successes, uptime
        case successRate = "success_rate"
        case timeToFirstTokenMs = "ttft_ms"
        case tokensPerSecondP50 = "tokens_per_second_p50"
        case toolCalls = "tool_calls"
        case toolCallReliability = "tool_call_reliability"
    }
}

/// A route's figures over one step of a trend.
public struct TrendPoint: Sendable, Equatable {
    /// Attempts that ended in the step.
    public var calls = 0
    /// Successes over calls.
    public var successRate: Double?
    /// Median time to first token, milliseconds.
    public var timeToFirstTokenP50: Double?
    /// Median output tokens per second.
    public var tokensPerSecondP50: Double?
}

/// The folded samples of one route: counts per minute for a day, histograms per minute for half an
/// hour and per half hour for a day.
struct RouteHistory {
    struct Minute {
        var id = -1
        var calls: Int32 = 0
        var successes: Int32 = 0
        var failures: Int32 = 0
        var toolCalls: Int32 = 0
        var validToolCalls: Int32 = 0
    }

    struct Slot {
        var id = -1
        var timeToFirstToken = LogHistogram(minimum: 0.1)
        var tokensPerSecond = LogHistogram(minimum: 0.01)
    }

    static let minuteSlots = 1440
    static let fineSlots = 30
    static let coarseMinutes = 30
    static let coarseSlots = 49

    var minutes = [Minute](repeating: Minute(), count: minuteSlots)
    var fine = [Slot](repeating: Slot(), count: fineSlots)
    var coarse = [Slot](repeating: Slot(), count: coarseSlots)

    mutating func add(_ sample: AttemptSample, minute: Int) {
        let index = minute % Self.minuteSlots
        if self.minutes[index].id != minute { self.minutes[index] = Minute(id: minute) }
        self.minutes[index].calls &+= 1
        switch sample.result {
        case .success: self.minutes[index].successes &+= 1
        case .failure: self.minutes[index].failures &+= 1
        }
        if let evidence = sample.toolCalls {
            let (total, valid) = ToolCallCheck.count(evidence)
            self.minutes[index].toolCalls &+= Int32(clamping: total)
            self.minutes[index].validToolCalls &+= Int32(clamping: valid)
        }
        let ttft = sample.timeToFirstToken.map { $0.milliseconds }
        let tps = sample.tokensPerSecond
        guard ttft != nil || tps != nil else { return }
        Self.add(ttft, tps, to: &self.fine, id: minute)
        Self.add(ttft, tps, to: &self.coarse, id: minute / Self.coarseMinutes)
    }

    private static func add(_ ttft: Double?, _ tps: Double?, to slots: inout [Slot], id: Int) {
        let index = id % slots.count
        if slots[index].id != id { slots[index] = Slot(id: id) }
        if let ttft { slots[index].timeToFirstToken.add(ttft) }
        if let tps { slots[index].tokensPerSecond.add(tps) }
    }

    /// Points of `step` minutes (1, or ``coarseMinutes``) covering the last `count` minutes.
    func trend(at now: Int, minutes count: Int, step: Int) -> [TrendPoint] {
        let steps = count / step
        let last = now / step
        return (0..<steps).map { offset in
            let id = last - (steps - 1 - offset)
            guard id >= 0 else { return TrendPoint() }
            var point = TrendPoint()
            var successes = 0
            for minuteID in (id * step)..<(id * step + step) {
                let minute = self.minutes[minuteID % Self.minuteSlots]
                guard minute.id == minuteID else { continue }
                point.calls += Int(minute.calls)
                successes += Int(minute.successes)
            }
            if point.calls > 0 { point.successRate = Double(successes) / Double(point.calls) }
            let slots = step == 1 ? self.fine : self.coarse
            let slot = slots[id % slots.count]
            if slot.id == id {
                point.timeToFirstTokenP50 = slot.timeToFirstToken.percentile(0.5)
                point.tokensPerSecondP50 = slot.tokensPerSecond.percentile(0.5)
            }
            return point
        }
    }

    func summary(at minute: Int) -> RouteSummary {
        var summary = RouteSummary(route: "")
        summary.windows = RouteStatistics.windows.map { self.window($0.name, minutes: $0.minutes, at: minute) }
        return summary
    }

    private func window(_ name: String, minutes count: Int, at now: Int) -> WindowStatistics {
        var stats = WindowStatistics(window: name)
        var (activeMinutes, upMinutes, toolCalls, validToolCalls) = (0, 0, 0, 0)
        for id in max(0, now - count + 1)...now {
            let minute = self.minutes[id % Self.minuteSlots]
            guard minute.id == id, minute.calls > 0 else { continue }
            stats.calls += Int(minute.calls)
            stats.successes += Int(minute.successes)
            activeMinutes += 1
            if minute.successes > 0 && minute.failures == 0 { upMinutes += 1 }
            toolCalls += Int(minute.toolCalls)
            validToolCalls += Int(minute.validToolCalls)
        }
        if stats.calls > 0 { stats.successRate = Double(stats.successes) / Double(stats.calls) }
        if activeMinutes > 0 { stats.uptime = Double(upMinutes) / Double(activeMinutes) }
        stats.toolCalls = toolCalls
        if toolCalls > 0 { stats.toolCallReliability = Double(validToolCalls) / Double(toolCalls) }

        var ttft = LogHistogram(minimum: 0.1)
        var tps = LogHistogram(minimum: 0.01)
        if count <= Self.fineSlots {
            for id in max(0, now - count + 1)...now where self.fine[id % Self.fineSlots].id == id {
                ttft.merge(self.fine[id % Self.fineSlots].timeToFirstToken)
                tps.merge(self.fine[id % Self.fineSlots].tokensPerSecond)
            }
        } else {
            let last = now / Self.coarseMinutes
            let first = max(0, last - (count / Self.coarseMinutes))
            for id in first...last where self.coarse[id % Self.coarseSlots].id == id {
                ttft.merge(self.coarse[id % Self.coarseSlots].timeToFirstToken)
                tps.merge(self.coarse[id % Self.coarseSlots].tokensPerSecond)
            }
        }
        stats.timeToFirstTokenMs = .init(
            p50: ttft.percentile(0.5),
            p95: ttft.percentile(0.95),
            p99: ttft.percentile(0.99)
        )
        stats.tokensPerSecondP50 = tps.percentile(0.5)
        return stats
    }
}
