// SPDX-License-Identifier: Apache-2.0

import Synchronization

/// `round-robin`: each call starts on the next route in turn; the others follow in configured order.
public final class RoundRobinStrategy: RoutingStrategy, RoutingStrategyType {
    /// The name in the configuration.
    public static let name = "round-robin"

    private let turn = Atomic<Int>(0)

    /// A strategy with its own turn counter.
    public init() {}

    /// A round-robin strategy for one model.
    public static func make(_ model: ModelConfiguration, path: String) throws -> any RoutingStrategy {
        RoundRobinStrategy()
    }

    /// The routes rotated by this call's turn.
    public func order(_ routes: [RouteChoice], for request: RoutingRequest) -> [RouteChoice] {
        guard routes.count > 1 else { return routes }
        let ordered = routes.sorted { $0.position < $1.position }
        // Wrapping add: the counter may run for years.
        let turn = self.turn.wrappingAdd(1, ordering: .relaxed).oldValue
        let start = Int(UInt(bitPattern: turn) % UInt(ordered.count))
        return Array(ordered[start...] + ordered[..<start])
    }
}
