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
    /// Outcomes within the window, oldest first: bounded by the policy's failure count and by time.
    private var recent: [(at: ContinuousClock.Instant, failed: Bool)] = []

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
            self.recent.removeAll()
            return
        }
        // Calls that started before the breaker opened, or last-resort calls while it is open, do not move it.
        guard self.phase == .closed else { return }
        self.recent.append((now, failed))
        let horizon = now - policy.window
        if let stale = self.recent.firstIndex(where: { $0.at >= horizon }) {
            self.recent.removeFirst(stale)
        } else {
            self.recent.removeAll()
        }
        // Bounded: only enough outcomes to judge the share are needed.
        let keep = max(policy.failures * 50, 100)
        if self.recent.count > keep { self.recent.removeFirst(self.recent.count - keep) }
        let failures = self.recent.lazy.filter(\.failed).count
        if failures >= policy.failures, Double(failures) >= policy.share * Double(self.recent.count) {
            self.phase = .open(until: now + policy.duration)
            self.recent.removeAll()
        }
    }

    /// A probe whose outcome will never come (the call was abandoned): let another call probe.
    mutating func releaseProbe() {
        if self.phase == .halfOpen(probing: true) { self.phase = .halfOpen(probing: false) }
    }
}
