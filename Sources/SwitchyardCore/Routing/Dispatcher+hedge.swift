// SPDX-License-Identifier: Apache-2.0

import Foundation

extension Dispatcher {
    /// What a hedged race between a model's first two routes came to.
    struct RaceOutcome {
        /// The route that answered first, its answer and its lease.
        var winner: (Step, Reply.Body, RouteLease)?
        /// Every attempt the race made, the loser's included.
        var attempts: [Attempt] = []
        /// The failures among them.
        var failures: [ProviderError] = []
        /// Whether the second route was started (the first had not answered within the delay).
        var startedSecond = false
        /// For the route reason.
        var notes: [String] = []
    }

    /// Runs `first`; if it has not answered (a complete body, or a stream's first event) after the
    /// hedge delay, starts `second` too. The first answer wins and the other attempt is cancelled
    /// (its upstream call closed) and recorded as lost. When `first` fails before the delay, the race
    /// ends at once without starting `second`, which the normal loop then tries.
    func race(
        _ first: Step,
        _ second: Step,
        hedge: HedgeConfiguration,
        call: Call,
        deadline: ContinuousClock.Instant,
        attempt: @escaping @Sendable (Route, UpstreamContext) async throws -> UpstreamResponse
    ) async -> RaceOutcome {
        let delay: Duration
        switch hedge.after {
        case .fixed(let fixed): delay = fixed
        case .measuredP95:
            delay =
                first.state?.measurements.timeToFirstTokenP95.map { .milliseconds(Int64($0.rounded(.up))) }
                ?? .seconds(1)
        }

        enum Result: Sendable {
            case answered(Reply.Body, RouteLease)
            case failed(ProviderError)
            case notStarted
            case cancelled

            var started: Bool {
                if case .notStarted = self { return false }
                return true
            }
        }
        struct Entry: Sendable {
            var index: Int
            var result: Result
        }

        let steps = [first, second]
        return await withTaskGroup(of: Entry.self) { group in
            let once: @Sendable (Step) async -> Result = { step in
                let admission = step.state?.admit(now: .now) ?? .allowed
                let lease = RouteLease(
                    state: step.state,
                    statistics: self.statistics,
                    policy: step.route.cooldown,
                    probe: admission == .probe
                )
                self.retryBudget.recordRequest(step.route.provider.name)
                do {
                    let context = self.upstreamContext(step.route, call: call, deadline: deadline)
                    let response = try await attempt(step.route, context)
                    let body = try await Self.makeBody(response, route: step.route, call: call, deadline: deadline)
                    return .answered(body, lease)
                } catch let error as ProviderError {
                    lease.failed(error)
                    return .failed(error)
                } catch {
                    lease.abandon()
                    return .cancelled
                }
            }
            group.addTask { Entry(index: 0, result: await once(first)) }
            group.addTask {
                do { try await Task.sleep(for: delay) } catch { return Entry(index: 1, result: .notStarted) }
                return Entry(index: 1, result: await once(second))
            }

            func credential(_ step: Step) -> String {
                self.upstreamContext(step.route, call: call, deadline: deadline).credential
            }
            var outcome = RaceOutcome()
            var records: [(Int, Attempt)] = []
            while let entry = await group.next() {
                let step = steps[entry.index]
                switch entry.result {
                case .answered(let body, let lease):
                    if outcome.winner == nil {
                        outcome.winner = (step, body, lease)
                        records.append(
                            (
                                entry.index,
                                Attempt(
                                    route: step.route.label,
                                    provider: step.route.provider.name,
                                    credential: credential(step)
                                )
                            )
                        )
                        group.cancelAll()
                    } else {
                        // Both answered: the later one is closed unread.
                        if case .stream(let stream) = body { stream.cancelUpstream() }
                        lease.abandon()
                        records.append((entry.index, Self.lost(step)))
                    }
                case .failed(let error):
                    outcome.failures.append(error)
                    records.append(
                        (
                            entry.index,
                            Attempt(
                                route: step.route.label,
                                provider: step.route.provider.name,
                                failure: error.description,
                                errorType: error.typeLabel,
                                detail: error.detail,
                                credential: credential(step)
                            )
                        )
                    )
                    // The first route failed before the hedge started: stop waiting, the loop goes on.
                    if entry.index == 0 { group.cancelAll() }
                case .cancelled:
                    records.append((entry.index, Self.lost(step)))
                case .notStarted:
                    break
                }
                if entry.index == 1, entry.result.started { outcome.startedSecond = true }
            }
            // Attempts in the order they started: the first route's, then the hedge's.
            outcome.attempts = records.sorted { $0.0 < $1.0 }.map(\.1)
            if outcome.startedSecond {
                outcome.notes.append("hedged=\(second.route.label)@\(Int(delay.milliseconds.rounded()))ms")
            }
            return outcome
        }
    }

    private static func lost(_ step: Step) -> Attempt {
        Attempt(
            route: step.route.label,
            provider: step.route.provider.name,
            failure: "cancelled: another route answered first (hedged request)",
            errorType: "cancelled"
        )
    }
}
