// SPDX-License-Identifier: Apache-2.0

import HTTPTypes

/// Decides which routes a call tries, in which order, and why.
///
/// 1. Resolve the model and its `fallbacks` (unless `provider.allow_fallbacks` is false).
/// 2. Per model: drop routes that cannot serve the request (capabilities, limits), then those the
///    request's `provider.only` / `provider.ignore` exclude.
/// 3. Order the routes that are not cooling down with the model's strategy (or the request's
///    `provider.sort`), put `provider.order` first, and move the route holding the caller's prompt
///    prefix to the front where the strategy allows it.
/// 4. Append the routes in cooldown as a last resort.
///
/// The plan records every skipped route and its reason for `x-switchyard-route-reason`.
public struct RoutePlanner: Sendable {
    /// The models and their routes.
    public let models: ModelTable
    /// Live statistics and cooldown state per route.
    public let statistics: RouteStatistics
    /// Prompt prefix (per caller) → the route that last served it, while the provider's cache is warm.
    public let promptAffinity: AffinityTable

    /// How long a provider keeps a prompt cache warm: five minutes at OpenAI and Anthropic.
    public static let promptCacheLifetime = Duration.seconds(300)

    /// Handles of each public model's routes, made once.
    private let handles: [String: [RouteHandle]]

    /// Creates a planner.
    public init(models: ModelTable, statistics: RouteStatistics, promptAffinity: AffinityTable? = nil) {
        self.models = models
        self.statistics = statistics
        var handles: [String: [RouteHandle]] = [:]
        for name in models.publicNames {
            guard let model = models.resolve(name) else { continue }
            handles[name] = Self.makeHandles(model, statistics: statistics)
        }
        self.handles = handles
        self.promptAffinity =
            promptAffinity ?? AffinityTable(capacity: 100_000, lifetime: Self.promptCacheLifetime)
    }

    /// One route of a plan.
    public struct Step: Sendable {
        /// The route, its position and state.
        public var handle: RouteHandle
        /// It was cooling down when planned: tried only after every other route.
        public var lastResort: Bool
        /// The route.
        public var route: Route { self.handle.route }
        /// Its live state, when tracked.
        public var state: RouteState? { self.handle.state }
    }

    /// The routes to try and the reasoning behind them.
    public struct Plan: Sendable {
        /// The model asked for.
        public var model: ResolvedModel
        /// Routes in the order to try them.
        public var steps: [Step]
        /// Routes left out, with why.
        public var skipped: [(route: String, reason: String)]
        /// The prompt-affinity key of the call, when it has one.
        public var affinityKey: Int?
        /// The route moved to the front by prompt affinity, if any.
        public var affinityRoute: String?
        /// The strategy or sort that ordered the routes.
        public var orderedBy: String

        /// `strategy=…; order=…; skipped=…`, compact and header-safe.
        public func reason(extraSkips: [(route: String, reason: String)] = [], notes: [String] = []) -> String {
            // Built in one string: this runs on every call.
            var text = "strategy="
            text.reserveCapacity(64 + self.steps.count * 32)
            text += self.orderedBy
            text += "; order="
            for (index, step) in self.steps.enumerated() {
                if index > 0 { text += "," }
                text += step.handle.label
                if step.lastResort { text += "(cooldown)" }
            }
            if let affinity = self.affinityRoute { text += "; affinity=" + affinity }
            for note in notes { text += "; " + note }
            let skips = self.skipped + extraSkips
            for (index, skip) in skips.enumerated() {
                text += index == 0 ? "; skipped=" : ","
                text += skip.route + "(" + skip.reason + ")"
            }
            return RouteReason.headerSafe(text)
        }
    }

    /// The plan for a call to `modelName`; throws the client's error when no route can serve it.
    public func plan(
        _ call: Call,
        modelName: String,
        kind: CatalogModel.Kind,
        requirements: RouteRequirements,
        now: ContinuousClock.Instant = .now
    ) throws -> Plan {
        let caller = call.caller ?? .anonymous
        let primary = try self.resolve(modelName, kind: kind, caller: caller)
        let preferences = call.chat?.preferences ?? ProviderPreferences()
        try self.check(preferences)
        let request = Self.routingRequest(call, caller: caller)
        let affinityKey = call.chat?.promptPrefixKey.map { Self.tenantKey($0, caller: caller) }

        var groups = [primary]
        if preferences.allowFallbacks { groups += self.fallbackModels(of: primary, kind: kind, caller: caller) }

        var steps: [Step] = []
        var cooling: [Step] = []
        var skipped: [(route: String, reason: String)] = []
        var refusals: [(Route, RouteRefusal)] = []
        var affinityRoute: String?
        let orderedBy = preferences.sort.map { "sort:\($0.rawValue)" } ?? primary.strategyName

        for (groupIndex, model) in groups.enumerated() {
            var healthy: [RouteChoice] = []
            for handle in self.handles[model.publicName] ?? Self.makeHandles(model, statistics: self.statistics) {
                let route = handle.route
                if let refusal = route.refusal(for: requirements) {
                    refusals.append((route, refusal))
                    skipped.append((route.label, refusal.reason))
                    continue
                }
                let provider = route.provider.name
                if let only = preferences.only, !only.contains(provider) {
                    skipped.append((route.label, "not in provider.only"))
                    continue
                }
                if preferences.ignore.contains(provider) {
                    skipped.append((route.label, "provider.ignore"))
                    continue
                }
                let state = handle.state
                if state?.peekAdmission(now: now) == .coolingDown {
                    cooling.append(Step(handle: handle, lastResort: true))
                    continue
                }
                healthy.append(
                    RouteChoice(
                        handle: handle,
                        measured: state?.measurements ?? RouteMeasurements(),
                        inFlight: state?.inFlight ?? 0
                    )
                )
            }
            let strategy = Self.strategy(for: preferences.sort) ?? model.strategy
            var ordered = strategy.order(healthy, for: request)
            for choice in healthy where !ordered.contains(where: { $0.position == choice.position }) {
                skipped.append((choice.label, "no rule selects it"))
            }
            if !preferences.order.isEmpty {
                let listed = preferences.order.flatMap { name in ordered.filter { $0.route.provider.name == name } }
                ordered = listed + ordered.filter { choice in !listed.contains { $0.position == choice.position } }
            } else if groupIndex == 0, strategy.allowsAffinity, let key = affinityKey,
                let label = self.promptAffinity.route(for: key, now: now),
                let held = ordered.firstIndex(where: { $0.label == label })
            {
                affinityRoute = label
                ordered.insert(ordered.remove(at: held), at: 0)
            }
            steps += ordered.map { Step(handle: $0.handle, lastResort: false) }
        }
        steps += cooling

        if steps.isEmpty {
            if !refusals.isEmpty, refusals.count == skipped.count {
                let all = groups.flatMap(\.routes)
                _ = try Dispatcher.eligible(all, for: requirements, model: modelName, call: call)
            }
            if groups.allSatisfy({ $0.routes.isEmpty }) {
                throw GatewayError.notFound(
                    "The model `\(modelName)` has no routes configured.",
                    param: "model",
                    code: "model_not_found"
                )
            }
            let reasons = skipped.map { "\($0.route): \($0.reason)" }.joined(separator: "; ")
            throw GatewayError.invalidRequest(
                "No route of `\(modelName)` is left after the request's provider preferences (\(reasons)).",
                param: "provider",
                code: "no_route_left"
            )
        }
        if !preferences.allowFallbacks, steps.count > 1 {
            for step in steps.dropFirst() { skipped.append((step.route.label, "provider.allow_fallbacks=false")) }
            steps = [steps[0]]
        }
        return Plan(
            model: primary,
            steps: steps,
            skipped: skipped,
            affinityKey: affinityKey,
            affinityRoute: affinityRoute,
            orderedBy: orderedBy
        )
    }

    /// A handle per route of `model`, in configured order.
    private static func makeHandles(_ model: ResolvedModel, statistics: RouteStatistics) -> [RouteHandle] {
        model.routes.enumerated().map { position, route in
            RouteHandle(route: route, position: position, state: statistics.state(route.label))
        }
    }

    /// Records that the call with prompt-affinity key `key` was answered by `route`.
    public func rememberAffinity(_ key: Int?, route: @autoclosure () -> String) {
        guard let key else { return }
        self.promptAffinity.remember(key, route: route())
    }

    private func resolve(_ modelName: String, kind: CatalogModel.Kind, caller: Caller) throws -> ResolvedModel {
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
        return model
    }

    /// The fallback models of `model`, breadth first, each once; those the caller may not use are left out.
    private func fallbackModels(of model: ResolvedModel, kind: CatalogModel.Kind, caller: Caller) -> [ResolvedModel] {
        var result: [ResolvedModel] = []
        var seen: Set<String> = [model.publicName]
        var queue = model.fallbacks
        while !queue.isEmpty {
            let name = queue.removeFirst()
            guard seen.insert(name).inserted, let fallback = self.models.resolve(name), fallback.kind ?? kind == kind,
                caller.mayUse(fallback.publicName)
            else { continue }
            result.append(fallback)
            queue += fallback.fallbacks
        }
        return result
    }

    /// Preferences must name configured providers.
    private func check(_ preferences: ProviderPreferences) throws {
        for (field, names) in [
            ("order", preferences.order), ("only", preferences.only ?? []), ("ignore", preferences.ignore),
        ] {
            for name in names where self.models.providers[name] == nil {
                throw GatewayError.invalidRequest(
                    "`provider.\(field)` names `\(name)`, which is not a provider of this gateway; providers: "
                        + self.models.providers.keys.sorted().joined(separator: ", ") + ".",
                    param: "provider.\(field)",
                    code: "invalid_value"
                )
            }
        }
    }

    private static func strategy(for sort: ProviderPreferences.Sort?) -> (any RoutingStrategy)? {
        switch sort {
        case .price: LowestCostStrategy()
        case .throughput: HighestThroughputStrategy()
        case .latency: LowestLatencyStrategy()
        case .toolReliability: ToolReliabilitySort()
        case nil: nil
        }
    }

    private static func routingRequest(_ call: Call, caller: Caller) -> RoutingRequest {
        guard let chat = call.chat else { return RoutingRequest(headers: call.headers) }
        return RoutingRequest(
            estimatedPromptTokens: chat.requirements.estimatedPromptTokens,
            maxOutputTokens: chat.maxOutputTokens,
            user: chat.user,
            metadata: chat.metadata,
            headers: call.headers,
            conversation: Self.tenantKey(chat.conversationKey, caller: caller)
        )
    }

    /// `key` for this caller only: tenants never share affinity.
    private static func tenantKey(_ key: Int, caller: Caller) -> Int {
        var hasher = Hasher()
        hasher.combine(key)
        hasher.combine(caller.keyName)
        return hasher.finalize()
    }
}

/// `provider.sort: tool_reliability`: the route with the best measured share of valid tool calls
/// first; unmeasured routes first so they get measured.
struct ToolReliabilitySort: RoutingStrategy {
    func order(_ routes: [RouteChoice], for request: RoutingRequest) -> [RouteChoice] {
        routes.sortedByMeasurement { $0.measured.toolCallReliability.map { -$0 } }
    }
}

/// Keeps the route reason a valid, bounded header value.
enum RouteReason {
    /// Longest reason sent.
    static let limit = 1024

    /// Printable ASCII only (anything else becomes `?`), at most ``limit`` bytes.
    static func headerSafe(_ text: String) -> String {
        let utf8 = text.utf8
        if utf8.count <= limit, utf8.allSatisfy({ (0x20...0x7E).contains($0) }) { return text }
        var bytes = Array(text.utf8.prefix(limit)).map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }
        if text.utf8.count > limit { bytes.replaceSubrange((limit - 3)..<limit, with: Array("...".utf8)) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
