// SPDX-License-Identifier: Apache-2.0

/// `lowest-cost`: the route whose catalog (or configured) prices make this request cheapest first.
///
/// The estimate is the request's estimated prompt tokens at the input price plus its output limit
/// (or ``RoutingRequest/assumedOutputTokens``) at the output price. Routes without prices go last.
public struct LowestCostStrategy: RoutingStrategy, RoutingStrategyType {
    /// The name in the configuration.
    public static let name = "lowest-cost"

    /// Creates the strategy.
    public init() {}

    /// A lowest-cost strategy.
    public static func make(_ model: ModelConfiguration, path: String) throws -> any RoutingStrategy { Self() }

    /// The routes by estimated cost, cheapest first.
    public func order(_ routes: [RouteChoice], for request: RoutingRequest) -> [RouteChoice] {
        routes.sorted { lhs, rhs in
            switch (Self.estimate(lhs.route, request), Self.estimate(rhs.route, request)) {
            case (let l?, let r?): l != r ? l < r : lhs.position < rhs.position
            case (.some, nil): true
            case (nil, .some): false
            case (nil, nil): lhs.position < rhs.position
            }
        }
    }

    /// The estimated cost of `request` on `route` in USD, if the route has prices.
    public static func estimate(_ route: Route, _ request: RoutingRequest) -> Double? {
        guard let pricing = route.pricing else { return nil }
        let outputTokens = request.maxOutputTokens ?? RoutingRequest.assumedOutputTokens
        return (Double(request.estimatedPromptTokens) * pricing.input + Double(outputTokens) * pricing.output)
            / 1_000_000
    }
}
