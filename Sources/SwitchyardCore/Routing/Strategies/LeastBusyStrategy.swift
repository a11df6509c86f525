// SPDX-License-Identifier: Apache-2.0

/// `least-busy`: the route with the fewest calls in flight (from every request) first; ties in configured order.
public struct LeastBusyStrategy: RoutingStrategy, RoutingStrategyType {
    /// The name in the configuration.
    public static let name = "least-busy"

    /// Creates the strategy.
    public init() {}

    /// A least-busy strategy.
    public static func make(_ model: ModelConfiguration, path: String) throws -> any RoutingStrategy { Self() }

    /// The routes by calls in flight.
    public func order(_ routes: [RouteChoice], for request: RoutingRequest) -> [RouteChoice] {
        routes.sorted { $0.inFlight != $1.inFlight ? $0.inFlight < $1.inFlight : $0.position < $1.position }
    }
}
