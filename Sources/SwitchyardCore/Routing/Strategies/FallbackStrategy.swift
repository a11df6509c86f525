// SPDX-License-Identifier: Apache-2.0

/// `fallback`: the routes in configured order; the next one only when the one before failed.
public struct FallbackStrategy: RoutingStrategy, RoutingStrategyType {
    /// The name in the configuration.
    public static let name = "fallback"

    /// Creates the strategy.
    public init() {}

    /// A fallback strategy.
    public static func make(_ model: ModelConfiguration, path: String) throws -> any RoutingStrategy { Self() }

    /// The order is the operator's: no affinity moves a route ahead.
    public var allowsAffinity: Bool { false }

    /// The routes as given.
    public func order(_ routes: [RouteChoice], for request: RoutingRequest) -> [RouteChoice] {
        routes.sorted { $0.position < $1.position }
    }
}
