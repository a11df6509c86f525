// SPDX-License-Identifier: Apache-2.0

/// `highest-throughput`: the route with the highest measured median output tokens per second first.
///
/// Unmeasured routes go first so they get measured; routes that only failed go last.
public struct HighestThroughputStrategy: RoutingStrategy, RoutingStrategyType {
    /// The name in the configuration.
    public static let name = "highest-throughput"

    /// Creates the strategy.
    public init() {}

    /// A highest-throughput strategy.
    public static func make(_ model: ModelConfiguration, path: String) throws -> any RoutingStrategy { Self() }

    /// The routes by median tokens per second, fastest first.
    public func order(_ routes: [RouteChoice], for request: RoutingRequest) -> [RouteChoice] {
        routes.sortedByMeasurement { $0.measured.tokensPerSecondP50.map { -$0 } }
    }
}
