// SPDX-License-Identifier: Apache-2.0

import Logging
import NIOCore

/// The pipeline's terminal step: plans the routes for the model and calls them, with retries and fallback.
///
/// This is the gateway's only retry loop.
///
/// 1. ``RoutePlanner`` orders the routes of the model and its `fallbacks` (capabilities, preferences,
///    strategy, prompt affinity, cooldown); if none can serve the request, the client gets a 400.
/// 2. Each route is tried up to `retries.attempts` times while its failure is retryable (429, 5xx,
///    timeouts, connection errors, a stream that fails before its first event), waiting with
///    exponential backoff and jitter, or for the upstream's `Retry-After` when it is no longer than
///    `retries.max_backoff`. A 429 on a provider with several keys moves to its next key first.
/// 3. Any other failure moves to the next route, except a 400-class answer that no route will
///    improve on, which goes back to the client.
/// 4. When every route failed, the client gets 502 (504 if they all timed out) listing each route and why.
///
/// Every attempt's outcome feeds ``RouteStatistics`` (a stream's when it ends) and the route's cooldown.
public struct Dispatcher: Sendable {
    /// The models and their routes.
    public var models: ModelTable { self.planner.models }
    /// Orders the routes of each call.
    public let planner: RoutePlanner
    /// The retry policy.
    public let retries: RetryConfiguration
    /// Waits between retries; tests replace it to avoid real sleeps.
    public let pause: @Sendable (Duration) async throws -> Void
    /// Keeps retries of each provider within `retries.budget` of its recent requests.
    public let retryBudget: RetryBudget
    /// Live per-route statistics.
    public var statistics: RouteStatistics { self.planner.statistics }
    /// Mirrored calls and their comparisons; `nil` turns shadow traffic off.
    public let shadowTraffic: ShadowTraffic?
    /// Where routes' rate limits are counted; without one, `routes[].limits` are not enforced.
    public let quotaLedger: QuotaLedger?
    /// The key a team brought for a provider (team, provider name), if any.
    public let ownKeys: (@Sendable (String, String) -> String?)?

    /// Creates a dispatcher.
    public init(
        models: ModelTable,
        retries: RetryConfiguration,
        statistics: RouteStatistics? = nil,
        retryBudget: RetryBudget? = nil,
        shadowTraffic: ShadowTraffic? = ShadowTraffic(),
        quotaLedger: QuotaLedger? = nil,
        ownKeys: (@Sendable (String, String) -> String?)? = nil,
        pause: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.quotaLedger = quotaLedger
        self.ownKeys = ownKeys
        self.planner = RoutePlanner(
            models: models,
            statistics: statistics ?? RouteStatistics(known: models.routeLabels)
        )
        self.retries = retries
        self.shadowTraffic = shadowTraffic
        self.retryBudget = retryBudget ?? RetryBudget(share: retries.budget)
        self.pause = pause
    }

    /// Serves `call`; the decoding stage must have set `call.chat` or `call.embeddings`.
    public func dispatch(_ call: Call) async throws -> Reply {
        if let request = call.chat {
            return try await self.run(call, modelName: request.model, kind: .chat, requirements: request.requirements) {
                route,
                context in
                try await route.provider.chat(request, on: route, context: context)
            }
        }
        if let request = call.embeddings {
            return try await self.run(
                call,
                modelName: request.model,
                kind: .embedding,
                requirements: RouteRequirements()
            ) {
                route,
                context in
                try await route.provider.embeddings(request, on: route, context: context)
            }
        }
        throw GatewayError.internalError()
    }

    private func run(
        _ call: Call,
        modelName: String,
        kind: CatalogModel.Kind,
        requirements: RouteRequirements,
        attempt: @escaping @Sendable (Route, UpstreamContext) async throws -> UpstreamResponse
    ) async throws -> Reply {
        let plan = try self.planner.plan(call, modelName: modelName, kind: kind, requirements: requirements)
        let attempt = call.trace.map { Self.traced(attempt, trace: $0, call: call) } ?? attempt
        var queue = plan.steps[...]
        var attempts: [Attempt] = []
        var failures: [ProviderError] = []
        var unsupported: [(route: String, error: ProviderError)] = []
        let deadline =
            call.startedAt + (plan.steps.first?.route.timeouts.total ?? Timeouts.defaults.total ?? .seconds(600))
        var reasonNotes: [String] = []
        var atLimit: [QuotaDemand] = []

        // Hedging races two routes without their rate limits' bookkeeping, so routes with limits (or whose
        // provider the key limits) are not hedged.
        let keyLimitsProviders = call.caller?.policy.limits?.providers
        if let hedge = plan.model.hedge, queue.count >= 2, !queue[queue.startIndex + 1].lastResort,
            queue.prefix(2).allSatisfy({ $0.route.limits == nil && keyLimitsProviders?[$0.route.provider.name] == nil })
        {
            let first = queue.removeFirst()
            let second = queue.removeFirst()
            let race = await self.race(first, second, hedge: hedge, call: call, deadline: deadline, attempt: attempt)
            attempts += race.attempts
            failures += race.failures
            reasonNotes += race.notes
            if let (step, body, lease) = race.winner {
                self.planner.rememberAffinity(plan.affinityKey, route: step.handle.label)
                var reply = Reply(
                    provider: step.route.provider.name,
                    model: step.route.upstreamModel,
                    attempts: attempts,
                    body: body,
                    zeroDataRetention: step.route.zeroDataRetention
                )
                reply.routeReason = plan.reason(notes: reasonNotes)
                return self.mirroring(lease.succeeded(reply, call: call), call: call, model: plan.model)
            }
            // A route the race did not start is tried as usual; those it tried are not tried again.
            if !race.startedSecond { queue.insert(second, at: queue.startIndex) }
        }

        while let step = queue.popFirst() {
            let route = step.route
            let admission = step.state?.admit(now: .now) ?? .allowed
            if admission == .coolingDown, !step.lastResort {
                // It started cooling down (or another call took its probe) since the plan: try it last.
                queue.append(Step(handle: step.handle, lastResort: true))
                continue
            }
            let quota: QuotaReservation?
            switch await self.admitByLimits(route, call: call) {
            case .unlimited: quota = nil
            case .reserved(let reserved): quota = reserved
            case .atLimit(let demand):
                atLimit.append(demand)
                reasonNotes.append("skipped=\(route.label):rate-limited")
                continue
            }
            let isProbe = admission == .probe
            var backoff = self.retries.initialBackoff
            var keyIndex = 0
            var rotations = 0
            self.retryBudget.recordRequest(route.provider.name)
            var number = 0
            // Every way out of this route (the next route, an error, cancellation) gives its share back.
            defer { quota?.settle(requests: number) }
            while number < self.retries.attempts {
                number += 1
                var context = self.upstreamContext(route, call: call, deadline: deadline)
                context.keyIndex = keyIndex
                let lease = RouteLease(
                    state: step.state,
                    statistics: self.statistics,
                    policy: route.cooldown,
                    probe: isProbe
                )
                do {
                    let response = try await attempt(route, context)
                    let body = try await Self.makeBody(response, route: route, call: call, deadline: deadline)
                    attempts.append(
                        Attempt(route: step.handle.label, provider: route.provider.name, credential: context.credential)
                    )
                    self.planner.rememberAffinity(plan.affinityKey, route: step.handle.label)
                    var reply = Reply(
                        provider: route.provider.name,
                        model: route.upstreamModel,
                        attempts: attempts,
                        body: body,
                        zeroDataRetention: route.zeroDataRetention
                    )
                    reply.routeReason = plan.reason(
                        extraSkips: unsupported.map { ($0.route, "not expressible") },
                        notes: reasonNotes
                    )
                    reply.fromFallbackModel = !plan.model.routes.contains { $0.label == route.label }
                    if let quota = quota?.handOver() {
                        let requests = number
                        reply = reply.onFinish { receipt in quota.settle(receipt, requests: requests) }
                    }
                    return self.mirroring(lease.succeeded(reply, call: call), call: call, model: plan.model)
                } catch let error as ProviderError where error.kind == .unsupported {
                    // Found before any upstream call: the route is skipped, as for a missing capability.
                    lease.abandon()
                    unsupported.append((route.label, error))
                    call.logger.debug(
                        "route skipped",
                        metadata: [
                            "gw.request_id": "\(call.id)", "gw.route": "\(route.label)",
                            "gw.reason": "\(error.message)",
                        ]
                    )
                    break
                } catch let error as ProviderError {
                    lease.failed(error)
                    attempts.append(
                        Attempt(
                            route: route.label,
                            provider: route.provider.name,
                            failure: error.description,
                            errorType: error.typeLabel,
                            detail: error.detail,
                            credential: context.credential
                        )
                    )
                    failures.append(error)
                    call.logger.debug(
                        "upstream attempt failed",
                        metadata: [
                            "gw.request_id": "\(call.id)", "gw.route": "\(route.label)", "gw.attempt": "\(number)",
                            "gw.error": "\(error.logDescription)",
                        ]
                    )
                    if error.kind == .invalidRequest {
                        var rejected = GatewayError(
                            status: .init(code: error.status ?? 400),
                            message: "\(route.label) rejected the request: \(error.message)",
                            type: "invalid_request_error",
                            code: "upstream_rejected_request"
                        )
                        rejected.attempts = attempts
                        rejected.routeReason = plan.reason(notes: reasonNotes)
                        throw rejected
                    }
                    guard ContinuousClock.now < deadline else { break }
                    // A rate-limited key is not the provider: its next key is tried at once, before any wait.
                    if error.kind == .rateLimited, context.ownKey == nil, rotations + 1 < route.provider.keyCount {
                        rotations += 1
                        keyIndex = (keyIndex + 1) % route.provider.keyCount
                        number -= 1
                        continue
                    }
                    guard error.isRetryable, number < self.retries.attempts else { break }
                    // Over budget, the next route is tried instead: it is not this upstream's traffic.
                    guard self.retryBudget.spendRetry(route.provider.name) else { break }
                    let wait: Duration
                    if let retryAfter = error.retryAfter {
                        // A long Retry-After is better spent on the next route than waiting here.
                        guard retryAfter <= self.retries.maxBackoff else { break }
                        wait = retryAfter
                    } else {
                        wait = Self.jittered(backoff)
                        backoff = min(backoff * 2, self.retries.maxBackoff)
                    }
                    try await self.pause(wait)
                }
            }
            if ContinuousClock.now >= deadline { break }
        }
        if attempts.isEmpty, unsupported.isEmpty, !atLimit.isEmpty {
            var error = Self.allRoutesAtLimit(atLimit, modelName: modelName)
            error.routeReason = plan.reason(notes: reasonNotes)
            throw error
        }
        if attempts.isEmpty, let first = unsupported.first {
            let reasons = unsupported.map { "\($0.route): \($0.error.message)" }.joined(separator: "; ")
            throw GatewayError.invalidRequest(
                "No route of `\(modelName)` can serve this request (\(reasons)).",
                param: first.error.param,
                code: "capability_not_supported"
            )
        }
        var error = Self.exhausted(modelName: modelName, attempts: attempts, failures: failures)
        error.attempts = attempts
        error.routeReason = plan.reason(
            extraSkips: unsupported.map { ($0.route, "not expressible") },
            notes: reasonNotes
        )
        throw error
    }

    typealias Step = RoutePlanner.Step

    /// The context of an attempt on `route`: its timeouts, and the caller's team's own key when the
    /// team brought one for the route's provider.
    func upstreamContext(_ route: Route, call: Call, deadline: ContinuousClock.Instant) -> UpstreamContext {
        var context = UpstreamContext(requestID: call.id, timeouts: route.timeouts, deadline: deadline)
        if route.provider.acceptsOwnKey, let team = call.caller?.team, let ownKeys = self.ownKeys {
            context.ownKey = ownKeys(team, route.provider.name)
        }
        return context
    }

    /// The routes that can serve `requirements`; throws a 400 naming the limit when none can.
    static func eligible(
        _ routes: [Route],
        for requirements: RouteRequirements,
        model: String,
        call: Call
    ) throws -> [Route] {
        var eligible: [Route] = []
        var refusals: [(Route, RouteRefusal)] = []
        for route in routes {
            if let refusal = route.refusal(for: requirements) {
                refusals.append((route, refusal))
            } else {
                eligible.append(route)
            }
        }
        if !eligible.isEmpty {
            for (route, refusal) in refusals {
                call.logger.debug(
                    "route skipped",
                    metadata: [
                        "gw.request_id": "\(call.id)", "gw.route": "\(route.label)", "gw.reason": "\(refusal.reason)",
                    ]
                )
            }
            return eligible
        }
        guard let (_, first) = refusals.first else {
            throw GatewayError.notFound(
                "The model `\(model)` has no routes configured.",
                param: "model",
                code: "model_not_found"
            )
        }
        switch first.kind {
        case .maxOutput:
            let parameter = call.chat?.maxOutputTokensParameter ?? "max_tokens"
            let limit =
                refusals.compactMap { if case .maxOutput(let limit) = $0.1.kind { limit } else { nil } }.max() ?? 0
            throw GatewayError.invalidRequest(
                "`\(parameter)` is \(requirements.maxOutputTokens ?? 0), but `\(model)` allows at most \(limit) output tokens.",
                param: parameter,
                code: "max_tokens_exceeded"
            )
        case .contextWindow(let window):
            throw GatewayError.invalidRequest(
                "The prompt (about \(requirements.estimatedPromptTokens) tokens) is longer than the context window of `\(model)` (\(window) tokens).",
                param: "messages",
                code: "context_length_exceeded"
            )
        case .capability:
            let reasons = refusals.map { "\($0.0.label): \($0.1.reason)" }.joined(separator: "; ")
            throw GatewayError.invalidRequest(
                "No route of `\(model)` can serve this request (\(reasons)).",
                param: first.param,
                code: "capability_not_supported"
            )
        }
    }

    /// The reply body for an upstream answer; a complete body that is not JSON fails the attempt.
    static func makeBody(
        _ response: UpstreamResponse,
        route: Route,
        call: Call,
        deadline: ContinuousClock.Instant
    ) async throws -> Reply.Body {
        switch response {
        case .complete(let buffer):
            let annotated: (body: [UInt8], usage: TokenUsage?, cost: Double?)
            do {
                annotated = try UsageAnnotator.annotate(body: Array(buffer.readableBytesView), pricing: route.pricing)
            } catch let error as TokenUsage.OutOfRange {
                throw ProviderError(kind: .invalidResponse, status: 200, message: "the response is malformed: \(error)")
            } catch {
                throw ProviderError(
                    kind: .invalidResponse,
                    status: 200,
                    message: "the response body is not a JSON object"
                )
            }
            return .complete(ByteBuffer(bytes: annotated.body), usage: annotated.usage, cost: annotated.cost)
        case .stream(let stream):
            // The first event is awaited here, so a stream that fails before the client sees a byte
            // is an attempt that failed, and the next one can still answer.
            return .stream(
                try await ChatStream(
                    upstream: stream,
                    clientWantsUsage: call.chat?.includesUsage ?? false,
                    pricing: route.pricing,
                    startedAt: call.startedAt,
                    deadline: deadline,
                    notesFinishReasons: call.trace != nil
                )
                .primed()
            )
        }
    }

    private static func exhausted(modelName: String, attempts: [Attempt], failures: [ProviderError]) -> GatewayError {
        func message(withDetail: Bool) -> String {
            let summary = attempts.map { attempt in
                let failure = attempt.failure ?? "ok"
                let detail = withDetail ? attempt.detail.map { " (\($0))" } ?? "" : ""
                return "\(attempt.route): \(failure)\(detail)"
            }
            let routeCount = Set(attempts.map(\.route)).count
            return "All \(routeCount) route(s) for `\(modelName)` failed after \(attempts.count) attempt(s): "
                + summary.joined(separator: "; ")
        }
        let clientMessage = message(withDetail: false)
        var error: GatewayError
        if !failures.isEmpty, failures.allSatisfy({ $0.kind == .overloaded }) {
            error = GatewayError(
                status: .serviceUnavailable,
                message: clientMessage,
                type: "server_error",
                code: "gateway_overloaded",
                retryAfterSeconds: 1
            )
        } else if !failures.isEmpty, failures.allSatisfy({ $0.kind == .timeout }) {
            error = .upstreamTimeout(clientMessage)
        } else {
            error = .upstreamFailed(clientMessage)
        }
        if attempts.contains(where: { $0.detail != nil }) { error.logMessage = message(withDetail: true) }
        return error
    }

    /// `base` scaled by a random factor in 0.5…1.5, so clients retrying together spread out.
    static func jittered(_ base: Duration) -> Duration {
        base * Double.random(in: 0.5...1.5)
    }
}
