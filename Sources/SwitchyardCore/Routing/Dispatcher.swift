// SPDX-License-Identifier: Apache-2.0

import Logging
import NIOCore

/// The pipeline's terminal step: picks routes for the model and calls them, with retries and fallback.
///
/// This is the gateway's only retry loop.
///
/// 1. Resolve the model and its `fallbacks` into one ordered list of routes.
/// 2. Skip routes that cannot serve the request (capabilities, context window, max output);
///    if none can, answer 400 naming the limit or the field.
/// 3. Try each route up to `retries.attempts` times while its failure is retryable (429, 5xx,
///    timeouts, connection errors), waiting with exponential backoff and jitter, or for the
///    upstream's `Retry-After` when it is no longer than `retries.max_backoff`.
/// 4. Move to the next route on any other failure, except a 400-class answer that no route
///    will improve on, which goes back to the client.
/// 5. When every route failed, answer 502 (504 if they all timed out) listing each route and why.
public struct Dispatcher: Sendable {
    /// The models and their routes.
    public let models: ModelTable
    /// The retry policy.
    public let retries: RetryConfiguration
    /// Waits between retries; tests replace it to avoid real sleeps.
    public let pause: @Sendable (Duration) async throws -> Void
    /// Keeps retries of each provider within `retries.budget` of its recent requests.
    public let retryBudget: RetryBudget

    /// Creates a dispatcher.
    public init(
        models: ModelTable,
        retries: RetryConfiguration,
        retryBudget: RetryBudget? = nil,
        pause: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.models = models
        self.retries = retries
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
        attempt: (Route, UpstreamContext) async throws -> UpstreamResponse
    ) async throws -> Reply {
        let candidates = try self.candidates(for: modelName, kind: kind, caller: call.caller ?? .anonymous)
        let routes = try Self.eligible(candidates, for: requirements, model: modelName, call: call)
        var attempts: [Attempt] = []
        var failures: [ProviderError] = []
        var unsupported: [(route: String, error: ProviderError)] = []
        let deadline = call.startedAt + (routes.first?.timeouts.total ?? Timeouts.defaults.total ?? .seconds(600))

        for route in routes {
            var backoff = self.retries.initialBackoff
            self.retryBudget.recordRequest(route.provider.name)
            for number in 1...self.retries.attempts {
                let context = UpstreamContext(requestID: call.id, timeouts: route.timeouts, deadline: deadline)
                do {
                    let response = try await attempt(route, context)
                    let body = try Self.makeBody(response, route: route, call: call, deadline: deadline)
                    attempts.append(Attempt(route: route.label))
                    return Reply(
                        provider: route.provider.name,
                        model: route.upstreamModel,
                        attempts: attempts,
                        body: body,
                        zeroDataRetention: route.zeroDataRetention
                    )
                } catch let error as ProviderError where error.kind == .unsupported {
                    // Found before any upstream call: the route is skipped, as for a missing capability.
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
                    attempts.append(Attempt(route: route.label, failure: error.description, detail: error.detail))
                    failures.append(error)
                    call.logger.debug(
                        "upstream attempt failed",
                        metadata: [
                            "gw.request_id": "\(call.id)", "gw.route": "\(route.label)", "gw.attempt": "\(number)",
                            "gw.error": "\(error.logDescription)",
                        ]
                    )
                    if error.kind == .invalidRequest {
                        throw GatewayError(
                            status: .init(code: error.status ?? 400),
                            message: "\(route.label) rejected the request: \(error.message)",
                            type: "invalid_request_error",
                            code: "upstream_rejected_request"
                        )
                    }
                    guard error.isRetryable, number < self.retries.attempts, ContinuousClock.now < deadline else {
                        break
                    }
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
        if attempts.isEmpty, let first = unsupported.first {
            let reasons = unsupported.map { "\($0.route): \($0.error.message)" }.joined(separator: "; ")
            throw GatewayError.invalidRequest(
                "No route of `\(modelName)` can serve this request (\(reasons)).",
                param: first.error.param,
                code: "capability_not_supported"
            )
        }
        throw Self.exhausted(modelName: modelName, attempts: attempts, failures: failures)
    }

    /// The routes of `modelName` followed by those of its fallback models, each model once.
    private func candidates(for modelName: String, kind: CatalogModel.Kind, caller: Caller) throws -> [Route] {
        guard let model = self.models.resolve(modelName) else {
            throw GatewayError.notFound(
                "The model `\(modelName)` does not exist on this gateway. GET /v1/models lists the models it serves; "
                    + "`provider/model` names a model on a configured provider.",
                param: "model",
                code: "model_not_found"
            )
        }
        guard caller.mayUse(model.publicName) else {
            throw GatewayError.forbidden("The key `\(caller.keyName)` may not use the model `\(modelName)`.")
        }
        if let modelKind = model.kind, modelKind != kind {
            let hint = kind == .embedding ? "an embedding model such as `text-embedding-3-small`" : "a chat model"
            throw GatewayError.invalidRequest(
                "`\(modelName)` is \(modelKind == .embedding ? "an embedding" : "a chat") model; this endpoint needs \(hint).",
                param: "model",
                code: "model_not_supported"
            )
        }
        var routes = model.routes
        var seen: Set<String> = [model.publicName]
        var queue = model.fallbacks
        while !queue.isEmpty {
            let name = queue.removeFirst()
            // A fallback the caller's key may not use is skipped, as if it were not listed.
            guard seen.insert(name).inserted, let fallback = self.models.resolve(name), fallback.kind ?? kind == kind,
                caller.mayUse(fallback.publicName)
            else { continue }
            routes += fallback.routes
            queue += fallback.fallbacks
        }
        return routes
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
    private static func makeBody(
        _ response: UpstreamResponse,
        route: Route,
        call: Call,
        deadline: ContinuousClock.Instant
    ) throws -> Reply.Body {
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
            return .stream(
                ChatStream(
                    upstream: stream,
                    clientWantsUsage: call.chat?.includesUsage ?? false,
                    pricing: route.pricing,
                    startedAt: call.startedAt,
                    deadline: deadline
                )
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
