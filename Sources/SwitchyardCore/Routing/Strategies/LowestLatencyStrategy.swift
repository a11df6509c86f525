// SPDX-License-Identifier: Apache-2.0

/// `lowest-latency`: the route with the lowest measured median time to first token first.
///
/// A route without calls in the statistics window goes first so it gets measured; one whose calls
/// all failed (no first token measured) goes last.
public struct LowestLatencyStrategy: RoutingStrategy, RoutingStrategyType {
    /// The name in the configuration.
    public static let name = "lowest-latency"

    /// Creates the strategy.
    public init() {}

    /// A lowest-latency strategy.
    public static func make(_ model: ModelConfiguration, path: String) throws -> any RoutingStrategy { Self() }

    /// The routes by median time to first token.
    public func order(_ routes: [RouteChoice], for request: RoutingRequest) -> [RouteChoice] {
        routes.sortedByMeasurement { $0.measured.timeToFirstTokenP50 }
    }
}
