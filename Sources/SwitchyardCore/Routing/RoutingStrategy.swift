// SPDX-License-Identifier: Apache-2.0

import HTTPTypes

/// Orders the eligible routes of one model for one request: the seam every strategy plugs into.
///
/// The planner hands a strategy only routes that can serve the request (capabilities, limits and the
/// request's `provider` preferences already applied) and moves routes in cooldown behind the others
/// afterwards, so a strategy only ranks. Adding one is a file with a ``RoutingStrategyType`` and its
/// entry in ``RoutingStrategies/all``.
///
/// ```swift
/// struct ReverseStrategy: RoutingStrategy, RoutingStrategyType {
///     static let name = "reverse"
///     static func make(_ model: ModelConfiguration, path: String) throws -> any RoutingStrategy { Self() }
///     func order(_ routes: [RouteChoice], for request: RoutingRequest) -> [RouteChoice] { routes.reversed() }
/// }
/// ```
public protocol RoutingStrategy: Sendable {
    /// `routes` best first; the result holds only elements of `routes`, each at most once.
    func order(_ routes: [RouteChoice], for request: RoutingRequest) -> [RouteChoice]
    /// Whether prompt-cache affinity may move a route to the front: true for strategies that choose
    /// among equally good routes, false where the order is the operator's (`fallback`, `conditional`).
    var allowsAffinity: Bool { get }
}

extension RoutingStrategy {
    /// Strategies choose among healthy routes unless they say otherwise.
    public var allowsAffinity: Bool { true }
}

/// A kind of strategy: its name under `strategy:` and how a model's configuration makes one.
public protocol RoutingStrategyType: Sendable {
    /// The name in the configuration.
    static var name: String { get }
    /// The strategy for one model; throws a ``ConfigurationError`` naming `path` for settings it cannot use.
    static func make(_ model: ModelConfiguration, path: String) throws -> any RoutingStrategy
}

/// Every strategy the gateway knows.
public enum RoutingStrategies {
    /// The registered strategy kinds, the default first.
    public static let all: [any RoutingStrategyType.Type] = [
        FallbackStrategy.self, WeightedStrategy.self, RoundRobinStrategy.self, LowestLatencyStrategy.self,
        LowestCostStrategy.self, HighestThroughputStrategy.self, LeastBusyStrategy.self, StickyStrategy.self,
        ConditionalStrategy.self,
    ]

    /// Their names, for error messages.
    public static var names: [String] { all.map { $0.name } }

    /// The kind called `name`.
    public static func named(_ name: String) -> (any RoutingStrategyType.Type)? {
        all.first { $0.name == name }
    }
}

/// A route with its configured position and live state, made once per model and shared by every
/// request: passing it around costs one reference count, where copying a ``Route`` costs a dozen.
public final class RouteHandle: Sendable {
    /// The route.
    public let route: Route
    /// Its position among the model's routes as configured (0 first).
    public let position: Int
    /// Its live state, when tracked.
    public let state: RouteState?
    /// `provider/model`, made once.
    public let label: String

    /// Creates a handle.
    public init(route: Route, position: Int, state: RouteState?) {
        self.route = route
        self.position = position
        self.state = state
        self.label = route.label
    }
}

/// One route as a strategy sees it: the route, its configured position and what is measured about it.
public struct RouteChoice: Sendable {
    /// The route, its position and its state.
    public let handle: RouteHandle
    /// The route.
    public var route: Route { self.handle.route }
    /// Its position among the model's routes as configured (0 first).
    public var position: Int { self.handle.position }
    /// Recent measurements (the last 5 minutes, or longer when those are empty).
    public var measured: RouteMeasurements
    /// Calls on the route right now, from every request.
    public var inFlight: Int

    /// Creates a choice.
    public init(handle: RouteHandle, measured: RouteMeasurements = RouteMeasurements(), inFlight: Int = 0) {
        self.handle = handle
        self.measured = measured
        self.inFlight = inFlight
    }

    /// Creates a choice for a route without live state.
    public init(route: Route, position: Int, measured: RouteMeasurements = RouteMeasurements(), inFlight: Int = 0) {
        self.init(
            handle: RouteHandle(route: route, position: position, state: nil),
            measured: measured,
            inFlight: inFlight
        )
    }

    /// `provider/model`.
    public var label: String { self.handle.label }
}

/// What the strategies read about a route's recent calls; `nil` where nothing was measured.
public struct RouteMeasurements: Sendable, Equatable {
    /// Calls measured.
    public var calls: Int
    /// Median time to first token, in milliseconds.
    public var timeToFirstTokenP50: Double?
    /// 95th percentile time to first token, in milliseconds.
    public var timeToFirstTokenP95: Double?
    /// Median output tokens per second.
    public var tokensPerSecondP50: Double?
    /// Share of calls that succeeded.
    public var successRate: Double?
    /// Share of tool calls whose arguments parsed and matched the declared schema.
    public var toolCallReliability: Double?

    /// Creates measurements.
    public init(
        calls: Int = 0,
        timeToFirstTokenP50: Double? = nil,
        timeToFirstTokenP95: Double? = nil,
        tokensPerSecondP50: Double? = nil,
        successRate: Double? = nil,
        toolCallReliability: Double? = nil
    ) {
        self.calls = calls
        self.timeToFirstTokenP50 = timeToFirstTokenP50
        self.timeToFirstTokenP95 = timeToFirstTokenP95
        self.tokensPerSecondP50 = tokensPerSecondP50
        self.successRate = successRate
        self.toolCallReliability = toolCallReliability
    }
}

/// What a strategy may read about the request.
public struct RoutingRequest: Sendable {
    /// Prompt size estimate, for prices.
    public var estimatedPromptTokens: Int
    /// Output tokens the request allows, if it says.
    public var maxOutputTokens: Int?
    /// The request's `user`.
    public var user: String?
    /// The request's `metadata`.
    public var metadata: [String: String]
    /// The request's headers.
    public var headers: HTTPFields
    /// Identifies the conversation (its opening messages) together with the caller, if it has one.
    public var conversation: Int?
    /// A number in 0..<1 drawn for this request, for strategies that choose at random (tests fix it).
    public var draw: Double

    /// Creates a request view.
    public init(
        estimatedPromptTokens: Int = 0,
        maxOutputTokens: Int? = nil,
        user: String? = nil,
        metadata: [String: String] = [:],
        headers: HTTPFields = [:],
        conversation: Int? = nil,
        draw: Double = Double.random(in: 0..<1)
    ) {
        self.estimatedPromptTokens = estimatedPromptTokens
        self.maxOutputTokens = maxOutputTokens
        self.user = user
        self.metadata = metadata
        self.headers = headers
        self.conversation = conversation
        self.draw = draw
    }

    /// Output tokens assumed for price estimates when the request sets no limit.
    public static let assumedOutputTokens = 500
}

extension Array where Element == RouteChoice {
    /// The choices by `key` ascending, ties in configured order. Routes without calls come first, so
    /// each gets measured; routes with calls but no value (they only failed) come last.
    func sortedByMeasurement(_ key: (RouteChoice) -> Double?) -> [RouteChoice] {
        func rank(_ choice: RouteChoice) -> (Int, Double) {
            if choice.measured.calls == 0 { return (0, 0) }
            return key(choice).map { (1, $0) } ?? (2, 0)
        }
        return self.sorted { lhs, rhs in
            let (l, r) = (rank(lhs), rank(rhs))
            if l != r { return l < r }
            return lhs.position < rhs.position
        }
    }
}
