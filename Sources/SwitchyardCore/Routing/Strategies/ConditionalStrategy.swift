// SPDX-License-Identifier: Apache-2.0

import HTTPTypes

/// `conditional`: the first rule whose conditions match the request picks the routes (those of its
/// providers, in the rule's order); when no rule matches, every route in configured order.
public struct ConditionalStrategy: RoutingStrategy, RoutingStrategyType {
    /// The name in the configuration.
    public static let name = "conditional"

    /// The model's rules, in order.
    public let rules: [RoutingRule]

    /// The order is the operator's: no affinity moves a route ahead.
    public var allowsAffinity: Bool { false }

    /// A conditional strategy; needs rules naming providers of the model's routes.
    public static func make(_ model: ModelConfiguration, path: String) throws -> any RoutingStrategy {
        guard !model.rules.isEmpty else {
            throw ConfigurationError("`\(path).rules`: `strategy: conditional` needs at least one rule")
        }
        let providers = Set(model.routes.map(\.provider))
        for (index, rule) in model.rules.enumerated() {
            for provider in rule.providers where !providers.contains(provider) {
                throw ConfigurationError(
                    "`\(path).rules[\(index)].providers` names `\(provider)`, which serves none of the model's routes "
                        + "(its providers: \(providers.sorted().joined(separator: ", ")))"
                )
            }
        }
        return Self(rules: model.rules)
    }

    /// Creates the strategy.
    public init(rules: [RoutingRule]) { self.rules = rules }

    /// The matching rule's routes, or all of them.
    public func order(_ routes: [RouteChoice], for request: RoutingRequest) -> [RouteChoice] {
        let ordered = routes.sorted { $0.position < $1.position }
        guard let rule = self.rules.first(where: { Self.matches($0, request) }) else { return ordered }
        return rule.providers.flatMap { provider in ordered.filter { $0.route.provider.name == provider } }
    }

    /// Whether every condition of `rule` holds for `request`.
    static func matches(_ rule: RoutingRule, _ request: RoutingRequest) -> Bool {
        for (name, value) in rule.headers {
            guard let field = HTTPField.Name(name), request.headers[field] == value else { return false }
        }
        if let pattern = rule.user {
            guard let user = request.user else { return false }
            if pattern.hasSuffix("*") {
                guard user.hasPrefix(pattern.dropLast()) else { return false }
            } else if user != pattern {
                return false
            }
        }
        for (key, value) in rule.metadata where request.metadata[key] != value { return false }
        return true
    }
}
