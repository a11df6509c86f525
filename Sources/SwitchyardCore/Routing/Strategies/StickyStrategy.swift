// SPDX-License-Identifier: Apache-2.0

/// `sticky`: calls of one conversation (or one `user`) go to the same route while it stays healthy.
///
/// A conversation is identified by the caller and its opening messages, or by `user` when the request
/// has one. A new conversation is placed by its hash, which spreads conversations over the routes; it is
/// moved only when its route is no longer among the healthy candidates. Calls without either go in
/// configured order.
public final class StickyStrategy: RoutingStrategy, RoutingStrategyType {
    /// The name in the configuration.
    public static let name = "sticky"

    /// Conversations and the route they stick to.
    let assignments: AffinityTable

    /// A strategy remembering up to `capacity` conversations for `lifetime` after their last call.
    public init(capacity: Int = 100_000, lifetime: Duration = .seconds(3600)) {
        self.assignments = AffinityTable(capacity: capacity, lifetime: lifetime)
    }

    /// A sticky strategy for one model.
    public static func make(_ model: ModelConfiguration, path: String) throws -> any RoutingStrategy {
        StickyStrategy()
    }

    /// The conversation's route first, then the others in configured order.
    public func order(_ routes: [RouteChoice], for request: RoutingRequest) -> [RouteChoice] {
        let ordered = routes.sorted { $0.position < $1.position }
        guard let key = request.conversation, !ordered.isEmpty else { return ordered }
        let chosen: RouteChoice
        if let label = self.assignments.route(for: key), let held = ordered.first(where: { $0.label == label }) {
            chosen = held
        } else {
            chosen = ordered[Int(UInt(bitPattern: key) % UInt(ordered.count))]
        }
        self.assignments.remember(key, route: chosen.label)
        return [chosen] + ordered.filter { $0.position != chosen.position }
    }
}
