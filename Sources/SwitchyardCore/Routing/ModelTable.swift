// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Every public model the gateway serves, resolved to routes on configured providers.
///
/// 1. Each catalog model gets the catalog routes whose provider is configured, in catalog order;
///    a model no configured real provider serves gets one route per provider that invents answers
///    (the simulator) instead.
/// 2. Each model under `models:` in the configuration is added or replaces the catalog's entry;
///    facts its routes do not state come from the catalog.
/// 3. `provider/model` names a configured provider directly, for models the table does not list.
public struct ModelTable: Sendable {
    /// The catalog the facts come from.
    public let catalog: Catalog
    /// Providers by configured name.
    public let providers: [String: any Provider]
    private var models: [String: ResolvedModel] = [:]
    /// Routes of configured models by label, for `provider/model` pinning; the first model listing one wins.
    private var pinnedRoutes: [String: (CatalogModel.Kind?, Route)] = [:]
    /// Public model names, catalog order first, then configured ones.
    public private(set) var publicNames: [String] = []

    /// Builds the table; throws a ``ConfigurationError`` for dangling references.
    public init(configuration: GatewayConfiguration, catalog: Catalog, providers: [String: any Provider]) throws {
        self.catalog = catalog
        self.providers = providers
        let inventing = providers.filter { $0.value.inventsAnswers }.keys.sorted()

        for model in catalog.models {
            var routes: [Route] = []
            for catalogRoute in model.routes {
                guard let provider = providers[catalogRoute.provider], !provider.inventsAnswers else { continue }
                routes.append(
                    Self.makeRoute(
                        provider,
                        upstreamModel: catalogRoute.model,
                        model: model,
                        catalogRoute: catalogRoute
                    )
                )
            }
            // A provider that invents answers never stands in for a real provider: invented text must not look like a real
            // answer after a real route failed. It stays reachable as `simulator/<model>`.
            for name in inventing where routes.isEmpty {
                guard let provider = providers[name] else { continue }
                routes.append(
                    Self.makeRoute(
                        provider,
                        upstreamModel: model.id,
                        model: model,
                        catalogRoute: nil,
                        inventsAnswers: true
                    )
                )
            }
            guard !routes.isEmpty else { continue }
            self.add(ResolvedModel(publicName: model.id, kind: model.kind, routes: routes, fallbacks: []))
        }

        for (name, modelConfiguration) in configuration.models.sorted(by: { $0.key < $1.key }) {
            var routes: [Route] = []
            for (index, routeConfiguration) in modelConfiguration.routes.enumerated() {
                guard let provider = providers[routeConfiguration.provider] else {
                    throw ConfigurationError("`models.\(name).routes[\(index)].provider` names an unknown provider")
                }
                let inventsAnswers = provider.inventsAnswers
                let facts =
                    self.facts(provider: routeConfiguration.provider, upstreamModel: routeConfiguration.model)
                    ?? catalog.model(name).map { ($0, nil) }
                var route = Self.makeRoute(
                    provider,
                    upstreamModel: routeConfiguration.model,
                    model: facts?.0,
                    catalogRoute: facts?.1,
                    inventsAnswers: inventsAnswers
                )
                route.apply(routeConfiguration)
                route.timeouts = (routeConfiguration.timeouts ?? Timeouts()).inheriting(modelConfiguration.timeouts)
                    .inheriting(.defaults)
                route.cooldown = modelConfiguration.cooldown
                routes.append(route)
            }
            let kind = routes.first?.catalogModel?.kind
            guard let strategyType = RoutingStrategies.named(modelConfiguration.strategy) else {
                throw ConfigurationError(
                    "`models.\(name).strategy` is `\(modelConfiguration.strategy)`, which is not a strategy"
                )
            }
            self.add(
                ResolvedModel(
                    publicName: name,
                    kind: kind,
                    routes: routes,
                    fallbacks: modelConfiguration.fallbacks,
                    strategyName: strategyType.name,
                    strategy: try strategyType.make(modelConfiguration, path: "models.\(name)"),
                    hedge: modelConfiguration.hedge,
                    shadow: modelConfiguration.shadow
                )
            )
            for route in routes where self.pinnedRoutes[route.label] == nil {
                self.pinnedRoutes[route.label] = (kind, route)
            }
        }

        for (name, modelConfiguration) in configuration.models {
            for fallback in modelConfiguration.fallbacks where self.models[fallback] == nil {
                throw ConfigurationError(
                    "`models.\(name).fallbacks` lists `\(fallback)`, which is neither configured nor served from the catalog"
                )
            }
            if let shadow = modelConfiguration.shadow, self.resolve(shadow.model) == nil {
                throw ConfigurationError(
                    "`models.\(name).shadow.model` is `\(shadow.model)`, which is neither configured nor served from the catalog"
                )
            }
        }
    }

    /// The routes for the public name `name`, or for `provider/model` on a configured provider.
    ///
    /// A pinned route that a model of the table also offers is that route, with its configured prices
    /// and limits; otherwise it takes the catalog's facts.
    public func resolve(_ name: String) -> ResolvedModel? {
        if let model = self.models[name] { return model }
        guard let slash = name.firstIndex(of: "/") else { return nil }
        let providerName = String(name[..<slash])
        let upstreamModel = String(name[name.index(after: slash)...])
        guard let provider = self.providers[providerName], !upstreamModel.isEmpty else { return nil }
        if let (kind, route) = self.pinnedRoutes[name] {
            return ResolvedModel(publicName: name, kind: kind, routes: [route], fallbacks: [])
        }
        let inventsAnswers = provider.inventsAnswers
        let facts = self.facts(provider: providerName, upstreamModel: upstreamModel)
        // A provider that invents answers only plays models the catalog describes.
        if inventsAnswers && facts == nil { return nil }
        let route = Self.makeRoute(
            provider,
            upstreamModel: upstreamModel,
            model: facts?.0,
            catalogRoute: facts?.1,
            inventsAnswers: inventsAnswers
        )
        return ResolvedModel(publicName: name, kind: facts?.0.kind, routes: [route], fallbacks: [])
    }

    /// Public names whose every route invents its answers: their answers are invented, and `serve` says so.
    public var simulatedNames: [String] {
        self.publicNames.filter { name in
            self.models[name]?.routes.allSatisfy { $0.provider.inventsAnswers } ?? false
        }
    }

    /// Whether `name` is a model the configuration or catalog defines: a served public name, or
    /// `provider/model` for a configured provider and a model the catalog knows. Such names are a set
    /// fixed at start, so they are safe metric label values; names a provider merely passes through are not.
    public func isKnown(_ name: String) -> Bool {
        if self.models[name] != nil { return true }
        guard let slash = name.firstIndex(of: "/") else { return false }
        let providerName = String(name[..<slash])
        guard self.providers[providerName] != nil else { return false }
        return self.facts(provider: providerName, upstreamModel: String(name[name.index(after: slash)...])) != nil
    }

    /// The catalog facts for `upstreamModel` on the provider named `provider`.
    private func facts(provider: String, upstreamModel: String) -> (CatalogModel, CatalogRoute?)? {
        if self.providers[provider]?.inventsAnswers == true {
            return self.catalog.model(upstreamModel).map { ($0, nil) }
        }
        if let (model, route) = self.catalog.model(provider: provider, upstreamModel: upstreamModel) {
            return (model, route)
        }
        // A model the catalog knows under its public id, offered through a provider it does not list.
        return self.catalog.model(upstreamModel).map { ($0, nil) }
    }

    /// Labels of every route in the table, for statistics.
    public var routeLabels: Set<String> {
        Set(self.models.values.flatMap { $0.routes.map(\.label) })
    }

    private mutating func add(_ model: ResolvedModel) {
        if self.models.updateValue(model, forKey: model.publicName) == nil { self.publicNames.append(model.publicName) }
    }

    /// A route with the catalog's facts: the catalog route's own values first, then the model's.
    ///
    /// Prices come only from a catalog route (or a provider that invents answers, which bills like the model's
    /// primary route so demos show real costs): a reseller's price is not the maker's.
    static func makeRoute(
        _ provider: any Provider,
        upstreamModel: String,
        model: CatalogModel?,
        catalogRoute: CatalogRoute?,
        inventsAnswers: Bool = false
    ) -> Route {
        guard let model else {
            return Route(provider: provider, upstreamModel: upstreamModel)
        }
        let capabilities = catalogRoute?.capabilities?.applied(to: model.capabilities) ?? model.capabilities
        let pricing = catalogRoute.map { $0.pricing ?? model.pricing } ?? (inventsAnswers ? model.pricing : nil)
        return Route(
            provider: provider,
            upstreamModel: upstreamModel,
            contextWindow: catalogRoute?.contextWindow ?? model.contextWindow,
            maxOutputTokens: catalogRoute?.maxOutputTokens ?? model.maxOutputTokens,
            pricing: pricing,
            capabilities: capabilities,
            catalogModel: model,
            catalogRoute: catalogRoute
        )
    }
}

extension Route {
    /// Applies a configured route's overrides.
    mutating func apply(_ configuration: RouteConfiguration) {
        if let pricing = configuration.pricing { self.pricing = pricing }
        if let overrides = configuration.capabilities { self.capabilities = overrides.applied(to: self.capabilities) }
        if let window = configuration.contextWindow { self.contextWindow = window }
        if let limit = configuration.maxOutputTokens { self.maxOutputTokens = limit }
        self.zeroDataRetention = configuration.zeroDataRetention
        self.weight = configuration.weight
        self.limits = configuration.limits
    }
}
