// SPDX-License-Identifier: Apache-2.0

/// `weighted`: the first route drawn at random in proportion to the routes' `weight`; the others
/// follow by weight, heaviest first, as fallbacks.
public struct WeightedStrategy: RoutingStrategy, RoutingStrategyType {
    /// The name in the configuration.
    public static let name = "weighted"

    /// Creates the strategy.
    public init() {}

    /// A weighted strategy; at least one route needs a weight above 0.
    public static func make(_ model: ModelConfiguration, path: String) throws -> any RoutingStrategy {
        guard model.routes.contains(where: { $0.weight > 0 }) else {
            throw ConfigurationError("`\(path).routes`: `strategy: weighted` needs a route with a `weight` above 0")
        }
        return Self()
    }

    /// One route drawn by weight, then the rest heaviest first.
    public func order(_ routes: [RouteChoice], for request: RoutingRequest) -> [RouteChoice] {
        let byWeight = routes.sorted { lhs, rhs in
            lhs.route.weight != rhs.route.weight ? lhs.route.weight > rhs.route.weight : lhs.position < rhs.position
        }
        let total = routes.reduce(0) { $0 + $1.route.weight }
        guard total > 0 else { return byWeight }
        var remaining = request.draw * total
        // Drawn in configured order, so a given draw maps to the same route whatever the weights' order.
        for choice in routes.sorted(by: { $0.position < $1.position }) where choice.route.weight > 0 {
            remaining -= choice.route.weight
            if remaining < 0 {
                return [choice] + byWeight.filter { $0.position != choice.position }
            }
        }
        return byWeight
    }
}
