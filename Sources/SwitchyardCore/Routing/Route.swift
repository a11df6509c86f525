// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One way to serve a model: a provider, its model id, and the facts that apply there.
public struct Route: Sendable {
    /// The provider that answers.
    public var provider: any Provider
    /// The provider's id for the model.
    public var upstreamModel: String
    /// Maximum prompt plus output tokens, if known.
    public var contextWindow: Int?
    /// Maximum output tokens, if known.
    public var maxOutputTokens: Int?
    /// Prices, if known; cost is not reported without them.
    public var pricing: Pricing?
    /// What the route can do.
    public var capabilities: Capabilities
    /// Timeouts for calls on this route.
    public var timeouts: Timeouts
    /// Never store bodies of calls on this route.
    public var zeroDataRetention: Bool
    /// The catalog entry behind the route, if any.
    public var catalogModel: CatalogModel?
    /// The catalog's entry for this provider's offer of the model, if any.
    public var catalogRoute: CatalogRoute?
    /// Share of traffic under `strategy: weighted`.
    public var weight = 1.0
    /// Requests and tokens per minute, when the configuration limits the route.
    public var limits: RateLimits? {
        didSet {
            self.limitCounters = self.limits.map { _ in
                ("route:\(self.label):rpm", "route:\(self.label):tpm", "route `\(self.label)`")
            }
        }
    }
    /// The quota counter names of ``limits`` and the route as refusals name it, made once.
    public private(set) var limitCounters: (rpm: String, tpm: String, label: String)?
    /// When the route is skipped after failures.
    public var cooldown = CooldownPolicy.defaults

    /// Input and output modalities on this route.
    public var modalities: Modalities { self.catalogRoute?.modalities ?? self.catalogModel?.modalities ?? .text }
    /// Chat Completions parameters this route accepts.
    public var supportedParameters: [String] {
        self.catalogRoute?.supportedParameters ?? self.catalogModel?.supportedParameters ?? []
    }

    /// Creates a route.
    public init(
        provider: any Provider,
        upstreamModel: String,
        contextWindow: Int? = nil,
        maxOutputTokens: Int? = nil,
        pricing: Pricing? = nil,
        capabilities: Capabilities = .all,
        timeouts: Timeouts = .defaults,
        zeroDataRetention: Bool = false,
        catalogModel: CatalogModel? = nil,
        catalogRoute: CatalogRoute? = nil
    ) {
        self.provider = provider
        self.upstreamModel = upstreamModel
        self.contextWindow = contextWindow
        self.maxOutputTokens = maxOutputTokens
        self.pricing = pricing
        self.capabilities = capabilities
        self.timeouts = timeouts
        self.zeroDataRetention = zeroDataRetention
        self.catalogModel = catalogModel
        self.catalogRoute = catalogRoute
    }

    /// `provider/model`, as logs and error messages name a route.
    public var label: String { "\(self.provider.name)/\(self.upstreamModel)" }

    /// Why this route cannot serve `requirements`, or `nil` if it can.
    public func refusal(for requirements: RouteRequirements) -> RouteRefusal? {
        if let missing = self.capabilities.firstMissing(for: requirements) {
            return RouteRefusal(reason: "no \(missing.capability)", param: missing.param, kind: .capability)
        }
        if let requested = requirements.maxOutputTokens, let limit = self.maxOutputTokens, requested > limit {
            return RouteRefusal(reason: "max output is \(limit) tokens", param: nil, kind: .maxOutput(limit: limit))
        }
        if let window = self.contextWindow, requirements.estimatedPromptTokens > window {
            return RouteRefusal(
                reason: "context window is \(window) tokens",
                param: "messages",
                kind: .contextWindow(window)
            )
        }
        return nil
    }
}

/// Why a route was skipped for a request.
public struct RouteRefusal: Sendable, Equatable {
    /// Human-readable reason.
    public var reason: String
    /// The request field that caused it.
    public var param: String?
    /// The class of refusal.
    public var kind: Kind

    /// The class of refusal.
    public enum Kind: Sendable, Equatable {
        /// A capability is missing.
        case capability
        /// The requested output is above the route's maximum.
        case maxOutput(limit: Int)
        /// The prompt is longer than the context window.
        case contextWindow(Int)
    }
}

/// A public model resolved to the routes that serve it, and how they are chosen.
public struct ResolvedModel: Sendable {
    /// The name the client used.
    public var publicName: String
    /// Chat or embedding; `nil` when the catalog does not know the model, which then serves either endpoint.
    public var kind: CatalogModel.Kind?
    /// Routes in configured order.
    public var routes: [Route]
    /// Other public models tried after every route failed.
    public var fallbacks: [String]
    /// The strategy's name (`strategy:`).
    public var strategyName: String
    /// Orders the routes for each request.
    public var strategy: any RoutingStrategy
    /// Hedged requests, if on.
    public var hedge: HedgeConfiguration?
    /// Shadow traffic, if on.
    public var shadow: ShadowConfiguration?

    /// Creates a model; without a strategy its routes are tried in order (`fallback`).
    public init(
        publicName: String,
        kind: CatalogModel.Kind?,
        routes: [Route],
        fallbacks: [String],
        strategyName: String = FallbackStrategy.name,
        strategy: any RoutingStrategy = FallbackStrategy(),
        hedge: HedgeConfiguration? = nil,
        shadow: ShadowConfiguration? = nil
    ) {
        self.publicName = publicName
        self.kind = kind
        self.routes = routes
        self.fallbacks = fallbacks
        self.strategyName = strategyName
        self.strategy = strategy
        self.hedge = hedge
        self.shadow = shadow
    }
}
