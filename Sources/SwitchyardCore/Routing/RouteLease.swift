// SPDX-License-Identifier: Apache-2.0

import Synchronization

/// One attempt's hold on a route: it counts the attempt in flight, and reports the outcome to the
/// statistics and the route's cooldown exactly once: when the attempt fails, when a complete answer
/// arrives, or when a streamed answer ends. A lease dropped without an outcome (a reply never sent)
/// just ends, so in-flight counts and probes never leak.
final class RouteLease: Sendable {
    private let state: RouteState?
    private let statistics: RouteStatistics
    private let policy: CooldownPolicy
    private let probe: Bool
    private let started: ContinuousClock.Instant
    private let ended = Atomic<Bool>(false)

    init(state: RouteState?, statistics: RouteStatistics, policy: CooldownPolicy, probe: Bool) {
        self.state = state
        self.statistics = statistics
        self.policy = policy
        self.probe = probe
        self.started = .now
        state?.begin()
    }

    deinit {
        if self.end() { self.state?.releaseProbe() }
    }

    /// Ends the lease; true only the first time.
    private func end() -> Bool {
        guard !self.ended.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        self.state?.end()
        return true
    }

    /// The attempt ended without saying anything about the route (refused before the call, or the
    /// failure was the request's or the gateway's own).
    func abandon() {
        if self.end() { self.state?.releaseProbe() }
    }

    /// The attempt failed with `error`.
    func failed(_ error: ProviderError) {
        switch error.kind {
        case .invalidRequest, .overloaded, .unsupported:
            self.abandon()
        case .rateLimited, .server, .timeout, .connection, .invalidResponse, .rejected:
            self.report(failed: true, sample: AttemptSample(route: self.label, result: .failure))
        }
    }

    /// The attempt answered: a complete answer is reported now, a stream when it ends.
    func succeeded(_ reply: Reply, call: Call) -> Reply {
        let now = ContinuousClock.now
        switch reply.body {
        case .complete(let buffer, let usage, _):
            let evidence = Self.evidence(call, response: { Array(buffer.readableBytesView) }, streamed: false)
            self.report(
                failed: false,
                sample: AttemptSample(
                    route: self.label,
                    at: now,
                    result: .success,
                    timeToFirstToken: now - self.started,
                    outputTokens: usage?.outputTokens,
                    generationTime: now - self.started,
                    toolCalls: evidence
                )
            )
            return reply
        case .stream:
            // The stream is primed: its first event has arrived.
            let firstToken = now
            return reply.onFinish { receipt in
                let end = ContinuousClock.now
                let broke = receipt.error != nil && !receipt.clientDisconnected
                self.report(
                    failed: broke,
                    sample: AttemptSample(
                        route: self.label,
                        at: end,
                        result: broke ? .failure : .success,
                        timeToFirstToken: firstToken - self.started,
                        outputTokens: receipt.usage?.outputTokens,
                        generationTime: end - firstToken,
                        toolCalls: Self.evidence(call, response: { receipt.responseBody ?? [] }, streamed: true)
                    )
                )
            }
        }
    }

    private var label: String { self.state?.label ?? "" }

    private func report(failed: Bool, sample: AttemptSample) {
        guard self.end(), let state = self.state else { return }
        state.recordOutcome(failed: failed, probe: self.probe, policy: self.policy)
        self.statistics.record(sample)
    }

    /// The request and answer, when the request declared tools.
    private static func evidence(_ call: Call, response: () -> [UInt8], streamed: Bool) -> ToolCallEvidence? {
        guard let chat = call.chat, !chat.toolNames.isEmpty else { return nil }
        return ToolCallEvidence(request: chat.body, response: response(), streamed: streamed)
    }
}
