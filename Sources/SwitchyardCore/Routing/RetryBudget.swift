// SPDX-License-Identifier: Apache-2.0

import Synchronization

/// Limits retries of one provider to a share of its recent requests, as Envoy's retry budget does.
///
/// Without it, a failing upstream receives up to `retries.attempts` times its normal traffic just
/// when it can least take it. Requests and retries are counted per provider (a set fixed by the
/// configuration) over two consecutive windows, so "recent" means the last one to two windows.
public final class RetryBudget: Sendable {
    /// Largest share of requests that may be retries (`retries.budget`).
    public let share: Double
    /// Retries always allowed per window, so that a quiet gateway still retries.
    public let minimumRetries: Int
    /// Length of one counting window.
    public let window: Duration

    private struct Counts {
        var requests = 0
        var retries = 0
    }

    private struct State {
        var windowStart: ContinuousClock.Instant
        var current: [String: Counts] = [:]
        var previous: [String: Counts] = [:]
    }

    private let state: Mutex<State>

    /// Creates a budget of `share` (0 to 1), counted from `now`.
    public init(
        share: Double,
        minimumRetries: Int = 10,
        window: Duration = .seconds(10),
        now: ContinuousClock.Instant = .now
    ) {
        self.share = share
        self.minimumRetries = minimumRetries
        self.window = window
        self.state = Mutex(State(windowStart: now))
    }

    /// Counts a first attempt on `provider`.
    public func recordRequest(_ provider: String, now: ContinuousClock.Instant = .now) {
        self.state.withLock { state in
            self.advance(&state, to: now)
            state.current[provider, default: Counts()].requests += 1
        }
    }

    /// Whether a retry of `provider` fits the budget; counts it when it does.
    public func spendRetry(_ provider: String, now: ContinuousClock.Instant = .now) -> Bool {
        self.state.withLock { state in
            self.advance(&state, to: now)
            let current = state.current[provider] ?? Counts()
            let previous = state.previous[provider] ?? Counts()
            let allowed = max(
                Double(self.minimumRetries),
                self.share * Double(current.requests + previous.requests)
            )
            guard Double(current.retries + previous.retries) < allowed else { return false }
            state.current[provider, default: Counts()].retries += 1
            return true
        }
    }

    private func advance(_ state: inout State, to now: ContinuousClock.Instant) {
        guard now - state.windowStart >= self.window else { return }
        // One window on: the current counts become the previous ones. Two or more: both are stale.
        state.previous = now - state.windowStart >= self.window * 2 ? [:] : state.current
        state.current = [:]
        state.windowStart = now
    }
}
