// SPDX-License-Identifier: Apache-2.0

import HTTPTypes
import NIOCore
import SwitchyardProviders
import Testing

@testable import SwitchyardCore

/// Each strategy's choice, from fixed measurements and a fixed draw.
struct RoutingStrategyTests {
    struct NamedProvider: Provider {
        let name: String
        func chat(_ request: ChatRequest, on route: Route, context: UpstreamContext) async throws -> UpstreamResponse {
            .complete(ByteBuffer(string: "{}"))
        }
        func embeddings(
            _ request: EmbeddingsRequest,
            on route: Route,
            context: UpstreamContext
        ) async throws -> UpstreamResponse {
            .complete(ByteBuffer(string: "{}"))
        }
    }

    /// Routes `a`, `b`, `c` in configured order with the given facts.
    func choices(
        weights: [Double] = [1, 1, 1],
        measured: [RouteMeasurements] = [.init(), .init(), .init()],
        inFlight: [Int] = [0, 0, 0],
        prices: [Pricing?] = [nil, nil, nil]
    ) -> [RouteChoice] {
        ["a", "b", "c"].enumerated().map { index, name in
            var route = Route(provider: NamedProvider(name: name), upstreamModel: "m", pricing: prices[index])
            route.weight = weights[index]
            return RouteChoice(route: route, position: index, measured: measured[index], inFlight: inFlight[index])
        }
    }

    func names(_ ordered: [RouteChoice]) -> [String] { ordered.map { $0.route.provider.name } }

    @Test("fallback keeps the configured order and refuses prompt affinity")
    func fallback() {
        let strategy = FallbackStrategy()
        #expect(self.names(strategy.order(self.choices().reversed(), for: RoutingRequest(draw: 0))) == ["a", "b", "c"])
        #expect(!strategy.allowsAffinity)
    }

    @Test("weighted draws the first route in proportion to the weights; the rest follow heaviest first")
    func weighted() {
        let strategy = WeightedStrategy()
        let routes = self.choices(weights: [1, 3, 0])
        // Total weight 4: draws below 0.25 land on `a`, the rest on `b`; `c` (weight 0) is never first.
        #expect(self.names(strategy.order(routes, for: RoutingRequest(draw: 0.1))) == ["a", "b", "c"])
        #expect(self.names(strategy.order(routes, for: RoutingRequest(draw: 0.3))) == ["b", "a", "c"])
        #expect(self.names(strategy.order(routes, for: RoutingRequest(draw: 0.999))) == ["b", "a", "c"])
        var firsts: [String: Int] = [:]
        for step in 0..<1000 {
            let draw = Double(step) / 1000
            firsts[self.names(strategy.order(routes, for: RoutingRequest(draw: draw)))[0], default: 0] += 1
        }
        #expect(firsts == ["a": 250, "b": 750])
    }

    @Test("weighted refuses a model whose routes all weigh 0")
    func weightedNeedsWeight() {
        var model = ModelConfiguration(routes: [.init(provider: "a", model: "m", weight: 0)], strategy: "weighted")
        #expect(throws: ConfigurationError.self) { try WeightedStrategy.make(model, path: "models.x") }
        model.routes[0].weight = 2
        #expect(throws: Never.self) { try WeightedStrategy.make(model, path: "models.x") }
    }

    @Test("round-robin starts each call on the next route")
    func roundRobin() {
        let strategy = RoundRobinStrategy()
        let firsts = (0..<6).map { _ in self.names(strategy.order(self.choices(), for: RoutingRequest()))[0] }
        #expect(firsts == ["a", "b", "c", "a", "b", "c"])
        #expect(self.names(strategy.order(self.choices(), for: RoutingRequest())) == ["a", "b", "c"])
        #expect(self.names(strategy.order(self.choices(), for: RoutingRequest())) == ["b", "c", "a"])
    }

    @Test(
        "lowest-latency: unmeasured routes first (to measure them), then by median time to first token, failures last"
    )
    func lowestLatency() {
        let strategy = LowestLatencyStrategy()
        let measured = [
            RouteMeasurements(calls: 10, timeToFirstTokenP50: 400),
            RouteMeasurements(calls: 10, timeToFirstTokenP50: 120),
            RouteMeasurements(calls: 10, timeToFirstTokenP50: 250),
        ]
        #expect(self.names(strategy.order(self.choices(measured: measured), for: RoutingRequest())) == ["b", "c", "a"])
        let withNewAndFailing = [
            RouteMeasurements(calls: 10, timeToFirstTokenP50: 400),
            RouteMeasurements(calls: 4),  // only failures: nothing measured
            RouteMeasurements(),  // no calls yet
        ]
        #expect(
            self.names(strategy.order(self.choices(measured: withNewAndFailing), for: RoutingRequest())) == [
                "c", "a", "b",
            ]
        )
    }

    @Test("highest-throughput: the most output tokens per second first")
    func highestThroughput() {
        let measured = [
            RouteMeasurements(calls: 5, tokensPerSecondP50: 40),
            RouteMeasurements(calls: 5, tokensPerSecondP50: 95),
            RouteMeasurements(calls: 5, tokensPerSecondP50: 60),
        ]
        let ordered = HighestThroughputStrategy().order(self.choices(measured: measured), for: RoutingRequest())
        #expect(self.names(ordered) == ["b", "c", "a"])
    }

    @Test("lowest-cost prices the request's prompt and output on each route; routes without prices last")
    func lowestCost() {
        let prices: [Pricing?] = [
            Pricing(input: 1.0, output: 1.0),
            Pricing(input: 0.1, output: 4.0),
            nil,
        ]
        let strategy = LowestCostStrategy()
        // A long prompt with a short answer: the cheap input wins.
        let longPrompt = RoutingRequest(estimatedPromptTokens: 100_000, maxOutputTokens: 100)
        #expect(self.names(strategy.order(self.choices(prices: prices), for: longPrompt)) == ["b", "a", "c"])
        // A short prompt with a long answer: the cheap output wins.
        let longAnswer = RoutingRequest(estimatedPromptTokens: 10, maxOutputTokens: 10_000)
        #expect(self.names(strategy.order(self.choices(prices: prices), for: longAnswer)) == ["a", "b", "c"])
        let estimate = LowestCostStrategy.estimate(self.choices(prices: prices)[1].route, longPrompt)
        #expect(abs((estimate ?? 0) - (100_000 * 0.1 + 100 * 4.0) / 1_000_000) < 1e-12)
    }

    @Test("least-busy: the fewest calls in flight first, ties in configured order")
    func leastBusy() {
        let ordered = LeastBusyStrategy().order(self.choices(inFlight: [3, 1, 1]), for: RoutingRequest())
        #expect(self.names(ordered) == ["b", "c", "a"])
    }

    @Test("sticky keeps a conversation on its route, spreads conversations, and moves one whose route left")
    func sticky() {
        let strategy = StickyStrategy()
        let first = self.names(strategy.order(self.choices(), for: RoutingRequest(conversation: 7)))[0]
        for _ in 0..<5 {
            #expect(self.names(strategy.order(self.choices(), for: RoutingRequest(conversation: 7)))[0] == first)
        }
        let placed = Set(
            (0..<30).map { self.names(strategy.order(self.choices(), for: RoutingRequest(conversation: $0)))[0] }
        )
        #expect(placed == ["a", "b", "c"])
        // The route is no longer a healthy candidate: the conversation moves, and stays where it moved.
        let remaining = self.choices().filter { $0.route.provider.name != first }
        let moved = self.names(strategy.order(remaining, for: RoutingRequest(conversation: 7)))[0]
        #expect(moved != first)
        #expect(self.names(strategy.order(self.choices(), for: RoutingRequest(conversation: 7)))[0] == moved)
        // Without a conversation: configured order.
        #expect(self.names(strategy.order(self.choices(), for: RoutingRequest(conversation: nil))) == ["a", "b", "c"])
    }

    @Test("conditional: the first matching rule picks its providers' routes; no match keeps them all")
    func conditional() throws {
        let strategy = ConditionalStrategy(rules: [
            RoutingRule(headers: ["x-tier": "premium"], providers: ["c", "a"]),
            RoutingRule(user: "batch-*", providers: ["b"]),
            RoutingRule(metadata: ["team": "search"], providers: ["a"]),
        ])
        var premium = HTTPFields()
        premium[HTTPField.Name("X-Tier")!] = "premium"
        #expect(self.names(strategy.order(self.choices(), for: RoutingRequest(headers: premium))) == ["c", "a"])
        #expect(self.names(strategy.order(self.choices(), for: RoutingRequest(user: "batch-7"))) == ["b"])
        #expect(
            self.names(strategy.order(self.choices(), for: RoutingRequest(user: "interactive"))) == ["a", "b", "c"]
        )
        #expect(self.names(strategy.order(self.choices(), for: RoutingRequest(metadata: ["team": "search"]))) == ["a"])
        #expect(!strategy.allowsAffinity)
    }

    @Test("conditional refuses rules that name a provider none of the model's routes use")
    func conditionalChecksProviders() {
        let model = ModelConfiguration(
            routes: [.init(provider: "a", model: "m")],
            strategy: "conditional",
            rules: [RoutingRule(user: "x", providers: ["nope"])]
        )
        #expect(throws: ConfigurationError.self) { try ConditionalStrategy.make(model, path: "models.x") }
    }

    @Test("Every strategy name in the configuration makes its strategy; unknown names are refused with the list")
    func configuration() throws {
        for name in RoutingStrategies.names where name != "conditional" {
            let yaml = """
                providers: {a: {type: openai}}
                models: {m: {strategy: \(name), routes: [{provider: a, model: x}]}}
                """
            let configuration = try GatewayConfiguration.load(yaml: yaml, environment: [:])
            #expect(configuration.models["m"]?.strategy == name)
        }
        let bad = "providers: {a: {type: openai}}\nmodels: {m: {strategy: fastest, routes: [{provider: a, model: x}]}}"
        let error = #expect(throws: ConfigurationError.self) {
            try GatewayConfiguration.load(yaml: bad, environment: [:])
        }
        #expect(error?.message.contains("lowest-latency") == true)
        let rulesElsewhere = """
            providers: {a: {type: openai}}
            models: {m: {strategy: fallback, rules: [{when: {user: x}, providers: [a]}], routes: [{provider: a, model: x}]}}
            """
        #expect(throws: ConfigurationError.self) {
            try GatewayConfiguration.load(yaml: rulesElsewhere, environment: [:])
        }
    }
}
