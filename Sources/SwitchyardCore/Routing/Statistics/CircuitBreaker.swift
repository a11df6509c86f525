// SPDX-License-Identifier: Apache-2.0

/// The cooldown state of one route: closed (calls go through), open (the route is skipped until a
/// time), or half-open (one call at a time probes it; success closes, failure opens it again).
struct CircuitBreaker: Sendable {
    enum Phase: Sendable, Equatable {
        case closed
        case open(until: ContinuousClock.Instant)
        case halfOpen(probing: Bool)
    }

    /// What the breaker says about a call now.
    enum Admission: Sendable, Equatable {
        /// The route is healthy.
        case allowed
        /// The route is recovering and this call may probe it.
        case probe
        /// The route is cooling down (or its probe is already out).
        case coolingDown
    }

    private(set) var phase = Phase.closed
    /// When the last `policy.failures` failures happened, oldest first.
    private var failureTimes: [ContinuousClock.Instant] = []
    /// Calls and failures in the current and the previous window, for the failure share: O(1) per call.
    private var windowStart: ContinuousClock.Instant?
    private var current = (calls: 0, failures: 0)
    private var previous = (calls: 0, failures: 0)

    /// The admission without taking the probe, for ordering routes.
    func peek(now: ContinuousClock.Instant) -> Admission {
        switch self.phase {
        case .closed: .allowed
        case .open(let until): now >= until ? .probe : .coolingDown
        case .halfOpen(let probing): probing ? .coolingDown : .probe
        }
    }

    /// The admission for a call about to start; a probe is taken, so no second call probes at once.
    mutating func admit(now: ContinuousClock.Instant) -> Admission {
        let admission = self.peek(now: now)
        if admission == .probe { self.phase = .halfOpen(probing: true) }
        return admission
    }

    /// Records a call's outcome under `policy`.
    mutating func record(failed: Bool, probe: Bool, now: ContinuousClock.Instant, policy: CooldownPolicy) {
        guard policy.isEnabled else { return }
        if probe {
            self.phase = failed ? .open(until: now + policy.duration) : .closed
            self.reset()
            return
        }
        // Calls that started before the breaker opened, or last-resort calls while it is open, do not move it.
        guard self.phase == .closed else { return }
        self.advance(to: now, window: policy.window)
        self.current.calls += 1
        guard failed else { return }
        self.current.failures += 1
        self.failureTimes.append(now)
        if self.failureTimes.count > policy.failures {
            self.failureTimes.removeFirst(self.failureTimes.count - policy.failures)
        }
        // Open on `failures` failures within the window that are also `share` of the recent calls.
        guard self.failureTimes.count >= policy.failures, let oldest = self.failureTimes.first,
            now - oldest <= policy.window
        else { return }
        let calls = self.current.calls + self.previous.calls
        let failures = self.current.failures + self.previous.failures
        if Double(failures) >= policy.share * Double(calls) {
            self.phase = .open(until: now + policy.duration)
            self.reset()
        }
    }

    private mutating func advance(to now: ContinuousClock.Instant, window: Duration) {
        guard let start = self.windowStart else {
            self.windowStart = now
            return
        }
        guard now - start >= window else { return }
        // One window on: the current counts become the previous ones. Two or more: both are stale.
        self.previous = now - start >= window * 2 ? (0, 0) : self.current
        self.current = (0, 0)
        self.windowStart = now
    }

    private mutating func reset() {
        self.failureTimes.removeAll()
        self.current = (0, 0)
        self.previous = (0, 0)
        self.windowStart = nil
    }

    /// A probe whose outcome will never come (the call was abandoned): let another call probe.
    mutating func releaseProbe() {
        if self.phase == .halfOpen(probing: true) { self.phase = .halfOpen(probing: false) }
    }
}
