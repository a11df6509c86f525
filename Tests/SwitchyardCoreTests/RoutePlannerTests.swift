// SPDX-License-Identifier: Apache-2.0

import Logging
import NIOCore
import SwitchyardProviders
import Synchronization
import Testing

@testable import SwitchyardCore

/// What the dispatcher does with a plan: preferences, the route reason, cooldown, key rotation,
/// streams that fail before their first event, prompt affinity and pinning.
struct RoutePlannerTests {
    static let ok = #"{"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3}}"#

    /// A provider with several keys that records the key of each call and answers from a script.
    final class KeyedProvider: Provider {
        let name: String
        let keyCount: Int
        private let script: Mutex<[Result<UpstreamResponse, ProviderError>]>
        private let keys = Mutex<[Int]>([])

        init(_ name: String, keyCount: Int = 1, _ script: [Result<UpstreamResponse, ProviderError>] = []) {
            self.name = name
            self.keyCount = keyCount
            self.script = Mutex(script)
        }

        var keysUsed: [Int] { self.keys.withLock { $0 } }

        func chat(_ request: ChatRequest, on route: Route, context: UpstreamContext) async throws -> UpstreamResponse {
            self.keys.withLock { $0.append(context.keyIndex) }
            let next = self.script.withLock {
                $0.isEmpty ? .success(.complete(ByteBuffer(string: RoutePlannerTests.ok))) : $0.removeFirst()
            }
            return try next.get()
        }

        func embeddings(
            _ request: EmbeddingsRequest,
            on route: Route,
            context: UpstreamContext
        ) async throws -> UpstreamResponse {
            throw ProviderError(kind: .invalidRequest, message: "no embeddings")
        }
    }

    func dispatcher(
        _ providers: [KeyedProvider],
        model: ModelConfiguration? = nil,
        attempts: Int = 2,
        statistics: RouteStatistics? = nil
    ) throws -> Dispatcher {
        var configuration = GatewayConfiguration()
        for provider in providers { configuration.providers[provider.name] = ProviderConfiguration(type: "openai") }
        configuration.models["m"] =
            model ?? ModelConfiguration(routes: providers.map { RouteConfiguration(provider: $0.name, model: "x") })
        let table = try ModelTable(
            configuration: configuration,
            catalog: Catalog(models: []),
            providers: Dictionary(uniqueKeysWithValues: providers.map { ($0.name, $0 as any Provider) })
        )
        return Dispatcher(
            models: table,
            retries: RetryConfiguration(attempts: attempts, initialBackoff: .zero, maxBackoff: .zero),
            statistics: statistics,
            pause: { _ in }
        )
    }

    func call(_ extra: String = "", model: String = "m", caller: Caller? = nil) throws -> Call {
        try self.call(
            model: model,
            body: #"{"model":"\#(model)","messages":[{"role":"user","content":"hi"}]\#(extra)}"#,
            caller: caller
        )
    }

    @Test("provider.order, only and ignore reorder and filter the routes, and the reason says so")
    func preferences() async throws {
        let providers = [KeyedProvider("a"), KeyedProvider("b"), KeyedProvider("c")]
        let dispatcher = try self.dispatcher(providers)
        var reply = try await dispatcher.dispatch(try self.call(#","provider":{"order":["c","b"]}"#))
        #expect(reply.provider == "c")
        #expect(reply.routeReason == "strategy=fallback; order=c/x,b/x,a/x")
        reply = try await dispatcher.dispatch(try self.call(#","provider":{"ignore":["a"]}"#))
        #expect(reply.provider == "b")
        #expect(reply.routeReason == "strategy=fallback; order=b/x,c/x; skipped=a/x(provider.ignore)")
        reply = try await dispatcher.dispatch(try self.call(#","provider":{"only":["c"]}"#))
        #expect(reply.provider == "c")
        #expect(reply.routeReason?.contains("a/x(not in provider.only)") == true)
    }

    @Test("provider.allow_fallbacks=false tries one route only; the body sent upstream has no `provider` member")
    func noFallbacks() async throws {
        let failing = KeyedProvider("a", [.failure(.init(kind: .rejected, status: 401, message: "bad key"))])
        let dispatcher = try self.dispatcher([failing, KeyedProvider("b")], attempts: 1)
        let call = try self.call(#","provider":{"allow_fallbacks":false}"#)
        #expect(!String(decoding: call.chat!.body, as: UTF8.self).contains("provider"))
        let error = await #expect(throws: GatewayError.self) { try await dispatcher.dispatch(call) }
        #expect(error?.status == .badGateway)
        #expect(error?.routeReason?.contains("b/x(provider.allow_fallbacks=false)") == true)
    }

    @Test("Unknown preference members, values and providers are 400s naming them")
    func badPreferences() async throws {
        let dispatcher = try self.dispatcher([KeyedProvider("a")])
        for (extra, param) in [
            (#","provider":{"fastest":true}"#, "provider.fastest"),
            (#","provider":{"sort":"speed"}"#, "provider.sort"),
            (#","provider":{"order":"a"}"#, "provider.order"),
            (#","provider":{"allow_fallbacks":"no"}"#, "provider.allow_fallbacks"),
            (#","provider":7"#, "provider"),
        ] {
            let error = #expect(throws: GatewayError.self) { try self.call(extra) }
            #expect(error?.param == param)
        }
        let error = await #expect(throws: GatewayError.self) {
            try await dispatcher.dispatch(try self.call(#","provider":{"only":["nope"]}"#))
        }
        #expect(error?.param == "provider.only")
        #expect(error?.message.contains("`nope`") == true)
    }

    @Test("provider.sort replaces the strategy: latency orders by the measured time to first token")
    func sortByLatency() async throws {
        let statistics = RouteStatistics(known: ["a/x", "b/x"])
        let now = ContinuousClock.now
        statistics.record(AttemptSample(route: "a/x", at: now, result: .success, timeToFirstToken: .milliseconds(900)))
        statistics.record(AttemptSample(route: "b/x", at: now, result: .success, timeToFirstToken: .milliseconds(100)))
        statistics.refresh(now: now)
        let dispatcher = try self.dispatcher([KeyedProvider("a"), KeyedProvider("b")], statistics: statistics)
        let reply = try await dispatcher.dispatch(try self.call(#","provider":{"sort":"latency"}"#))
        #expect(reply.provider == "b")
        #expect(reply.routeReason?.hasPrefix("strategy=sort:latency; order=b/x,a/x") == true)
    }

    @Test("A route in cooldown goes last, is named in the reason, and is probed once the cooldown is over")
    func cooldown() async throws {
        let down = KeyedProvider(
            "a",
            Array(repeating: .failure(.init(kind: .server, status: 500, message: "down")), count: 2)
        )
        var model = ModelConfiguration(routes: [.init(provider: "a", model: "x"), .init(provider: "b", model: "x")])
        model.cooldown = CooldownPolicy(failures: 2, window: .seconds(30), duration: .milliseconds(200), share: 0)
        let dispatcher = try self.dispatcher([down, KeyedProvider("b")], model: model, attempts: 1)
        for _ in 0..<2 { #expect(try await dispatcher.dispatch(try self.call()).provider == "b") }
        #expect(down.keysUsed.count == 2)
        let cooled = try await dispatcher.dispatch(try self.call())
        #expect(cooled.provider == "b")
        #expect(cooled.routeReason == "strategy=fallback; order=b/x,a/x(cooldown)")
        #expect(down.keysUsed.count == 2)
        try await Task.sleep(for: .milliseconds(250))
        // The probe goes to `a`, which has recovered: it answers and the breaker closes.
        #expect(try await dispatcher.dispatch(try self.call()).provider == "a")
        #expect(try await dispatcher.dispatch(try self.call()).routeReason == "strategy=fallback; order=a/x,b/x")
    }

    @Test("A 429 moves to the provider's next key at once, before any retry or other route")
    func keyRotation() async throws {
        let limited = ProviderError(kind: .rateLimited, status: 429, message: "slow down", retryAfter: .seconds(30))
        let provider = KeyedProvider("a", keyCount: 3, [.failure(limited), .failure(limited)])
        let dispatcher = try self.dispatcher([provider, KeyedProvider("b")], attempts: 1)
        let reply = try await dispatcher.dispatch(try self.call())
        #expect(reply.provider == "a")
        #expect(provider.keysUsed == [0, 1, 2])
        #expect(reply.attempts.count == 3)
    }

    @Test("A stream whose first event is an error, or that breaks before its first event, is retried on the next route")
    func streamFailsBeforeFirstEvent() async throws {
        func stream(_ chunks: [String], thenFail: Bool = false) -> UpstreamResponse {
            let (bytes, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
            for chunk in chunks { continuation.yield(ByteBuffer(string: chunk)) }
            continuation.finish(throwing: thenFail ? ProviderError(kind: .connection, message: "reset") : nil)
            return .stream(ByteStream(bytes))
        }
        let errorFirst = KeyedProvider("a", [.success(stream([#"data: {"error":{"message":"overloaded"}}"# + "\n\n"]))])
        let brokenFirst = KeyedProvider("b", [.success(stream([], thenFail: true))])
        let good = KeyedProvider(
            "c",
            [
                .success(
                    stream([#"data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}"# + "\n\n", "data: [DONE]\n\n"])
                )
            ]
        )
        let dispatcher = try self.dispatcher([errorFirst, brokenFirst, good], attempts: 1)
        let reply = try await dispatcher.dispatch(try self.call(#","stream":true"#))
        #expect(reply.provider == "c")
        #expect(reply.attempts.map(\.route) == ["a/x", "b/x", "c/x"])
        #expect(reply.attempts[0].failure?.contains("began with an error") == true)
        guard case .stream(let relay) = reply.body else {
            Issue.record("expected a stream")
            return
        }
        var text = ""
        for try await chunk in relay { text += String(buffer: chunk) }
        #expect(text.contains(#""content":"hi""#))
        #expect(text.hasSuffix("data: [DONE]\n\n"))
    }

    @Test("A long prompt sticks to the route that served it under a load-spreading strategy, per caller")
    func promptAffinity() async throws {
        let model = ModelConfiguration(
            routes: [.init(provider: "a", model: "x"), .init(provider: "b", model: "x")],
            strategy: "round-robin"
        )
        let dispatcher = try self.dispatcher([KeyedProvider("a"), KeyedProvider("b")], model: model)
        let prefix = String(repeating: "You are a careful assistant. ", count: 200)
        func longCall(_ question: String, caller: String) throws -> Call {
            try self.call(
                model: "m",
                body:
                    #"{"model":"m","messages":[{"role":"system","content":"\#(prefix)"},{"role":"user","content":"\#(question)"}]}"#,
                caller: Caller(keyName: caller)
            )
        }
        let first = try await dispatcher.dispatch(try longCall("one", caller: "k1"))
        for question in ["two", "three", "four"] {
            let reply = try await dispatcher.dispatch(try longCall(question, caller: "k1"))
            #expect(reply.provider == first.provider)
            #expect(reply.routeReason?.contains("affinity=\(first.provider)/x") == true)
        }
        // Another caller shares no cache entry: round-robin decides.
        let other = try await dispatcher.dispatch(try longCall("one", caller: "k2"))
        #expect(other.routeReason?.contains("affinity=") == false)
    }

    @Test("Pinning `provider/model` of a configured route uses that route's price")
    func pinnedPrice() async throws {
        var model = ModelConfiguration(routes: [.init(provider: "a", model: "x", pricing: Pricing(input: 1, output: 2))]
        )
        model.cooldown = .off
        let dispatcher = try self.dispatcher([KeyedProvider("a")], model: model)
        let reply = try await dispatcher.dispatch(try self.call(model: "a/x"))
        guard case .complete(_, let usage, let cost) = reply.body else {
            Issue.record("expected a complete body")
            return
        }
        #expect(usage?.inputTokens == 2)
        #expect(cost == (2 * 1.0 + 3 * 2.0) / 1_000_000)
    }
}

extension RoutePlannerTests {
    func call(model: String, body: String, caller: Caller?) throws -> Call {
        var call = Call(
            id: "req_t",
            endpoint: .chatCompletions,
            body: Array(body.utf8),
            presentedKey: nil,
            logger: Logger(label: "t")
        )
        call.caller = caller
        call.chat = try ChatRequest(body: call.body)
        return call
    }
}

/// Hedged requests: the second route starts after the delay, the first answer wins, the loser is cancelled.
struct HedgeTests {
    /// Answers after `delay`, noting whether the wait was cancelled.
    final class SlowProvider: Provider {
        let name: String
        let delay: Duration
        let fails: Bool
        private let state = Mutex<(calls: Int, cancelled: Int)>((0, 0))

        init(_ name: String, delay: Duration, fails: Bool = false) {
            self.name = name
            self.delay = delay
            self.fails = fails
        }

        var calls: Int { self.state.withLock { $0.calls } }
        var cancelled: Int { self.state.withLock { $0.cancelled } }

        func chat(_ request: ChatRequest, on route: Route, context: UpstreamContext) async throws -> UpstreamResponse {
            self.state.withLock { $0.calls += 1 }
            do {
                try await Task.sleep(for: self.delay)
            } catch {
                self.state.withLock { $0.cancelled += 1 }
                throw error
            }
            if self.fails { throw ProviderError(kind: .server, status: 500, message: "down") }
            return .complete(ByteBuffer(string: RoutePlannerTests.ok))
        }

        func embeddings(
            _ request: EmbeddingsRequest,
            on route: Route,
            context: UpstreamContext
        ) async throws -> UpstreamResponse {
            throw ProviderError(kind: .invalidRequest, message: "no embeddings")
        }
    }

    func dispatcher(_ providers: [SlowProvider], hedge: HedgeConfiguration) throws -> Dispatcher {
        var configuration = GatewayConfiguration()
        for provider in providers { configuration.providers[provider.name] = ProviderConfiguration(type: "openai") }
        var model = ModelConfiguration(routes: providers.map { RouteConfiguration(provider: $0.name, model: "x") })
        model.hedge = hedge
        configuration.models["m"] = model
        let table = try ModelTable(
            configuration: configuration,
            catalog: Catalog(models: []),
            providers: Dictionary(uniqueKeysWithValues: providers.map { ($0.name, $0 as any Provider) })
        )
        return Dispatcher(models: table, retries: RetryConfiguration(attempts: 1), pause: { _ in })
    }

    @Test("A slow first route is hedged after the delay; the faster second answers and the first is cancelled")
    func hedgeWins() async throws {
        let slow = SlowProvider("a", delay: .seconds(5))
        let fast = SlowProvider("b", delay: .milliseconds(10))
        let dispatcher = try self.dispatcher([slow, fast], hedge: HedgeConfiguration(after: .fixed(.milliseconds(50))))
        let started = ContinuousClock.now
        let reply = try await dispatcher.dispatch(try RoutePlannerTests().call())
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(reply.provider == "b")
        #expect(slow.cancelled == 1)
        #expect(reply.attempts.map(\.route) == ["a/x", "b/x"])
        #expect(reply.attempts[0].failure?.contains("hedged") == true)
        #expect(reply.attempts[1].failure == nil)
        #expect(reply.routeReason?.contains("hedged=b/x@50ms") == true)
    }

    @Test("A first route that answers within the delay is never hedged")
    func noHedgeNeeded() async throws {
        let quick = SlowProvider("a", delay: .milliseconds(1))
        let other = SlowProvider("b", delay: .milliseconds(1))
        let dispatcher = try self.dispatcher([quick, other], hedge: HedgeConfiguration(after: .fixed(.seconds(2))))
        let reply = try await dispatcher.dispatch(try RoutePlannerTests().call())
        #expect(reply.provider == "a")
        #expect(other.calls == 0)
        #expect(reply.attempts.count == 1)
        #expect(reply.routeReason?.contains("hedged") == false)
    }

    @Test("A first route that fails before the delay hands over to the next route at once")
    func firstFailsFast() async throws {
        let failing = SlowProvider("a", delay: .milliseconds(1), fails: true)
        let next = SlowProvider("b", delay: .milliseconds(1))
        let dispatcher = try self.dispatcher([failing, next], hedge: HedgeConfiguration(after: .fixed(.seconds(5))))
        let started = ContinuousClock.now
        let reply = try await dispatcher.dispatch(try RoutePlannerTests().call())
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(reply.provider == "b")
        #expect(reply.attempts.map(\.route) == ["a/x", "b/x"])
    }

    @Test("hedge.after accepts a duration or p95")
    func configuration() throws {
        let yaml = """
            providers: {a: {type: openai}, b: {type: openai}}
            models:
              m: {hedge: {after: 300ms}, routes: [{provider: a, model: x}, {provider: b, model: x}]}
              n: {hedge: {after: p95}, routes: [{provider: a, model: x}, {provider: b, model: x}]}
            """
        let configuration = try GatewayConfiguration.load(yaml: yaml, environment: [:])
        #expect(configuration.models["m"]?.hedge == HedgeConfiguration(after: .fixed(.milliseconds(300))))
        #expect(configuration.models["n"]?.hedge == HedgeConfiguration(after: .measuredP95))
        #expect(throws: ConfigurationError.self) {
            try GatewayConfiguration.load(
                yaml:
                    "providers: {a: {type: openai}}\nmodels: {m: {hedge: {after: soon}, routes: [{provider: a, model: x}]}}",
                environment: [:]
            )
        }
    }
}

/// Shadow traffic: mirrored after the answer, compared side by side, never mirrored twice.
struct ShadowTests {
    static func answer(_ text: String, tokens: Int) -> String {
        #"{"choices":[{"index":0,"message":{"role":"assistant","content":"\#(text)"}}],"usage":{"prompt_tokens":5,"completion_tokens":\#(tokens)}}"#
    }

    @Test("A mirrored call runs after the answer is sent, on the candidate, and both sides are kept")
    func mirrors() async throws {
        let primary = RoutePlannerTests.KeyedProvider(
            "a",
            [.success(.complete(ByteBuffer(string: Self.answer("from a", tokens: 2))))]
        )
        let candidate = RoutePlannerTests.KeyedProvider(
            "b",
            [.success(.complete(ByteBuffer(string: Self.answer("from b", tokens: 7))))]
        )
        var configuration = GatewayConfiguration()
        configuration.providers = [
            "a": ProviderConfiguration(type: "openai"), "b": ProviderConfiguration(type: "openai"),
        ]
        var model = ModelConfiguration(routes: [.init(provider: "a", model: "x", pricing: Pricing(input: 1, output: 1))]
        )
        model.shadow = ShadowConfiguration(model: "n", share: 1)
        configuration.models["m"] = model
        var candidateModel = ModelConfiguration(routes: [.init(provider: "b", model: "y")])
        // A shadow of a shadow would mirror forever: it is never followed.
        candidateModel.shadow = ShadowConfiguration(model: "m", share: 1)
        configuration.models["n"] = candidateModel
        let table = try ModelTable(
            configuration: configuration,
            catalog: Catalog(models: []),
            providers: ["a": primary, "b": candidate]
        )
        let traffic = ShadowTraffic()
        let dispatcher = Dispatcher(
            models: table,
            retries: RetryConfiguration(attempts: 1),
            shadowTraffic: traffic,
            pause: { _ in }
        )
        let reply = try await dispatcher.dispatch(try RoutePlannerTests().call(#","stream":false"#))
        #expect(reply.provider == "a")
        // Nothing is mirrored before the answer has gone out.
        try await Task.sleep(for: .milliseconds(50))
        #expect(candidate.keysUsed.isEmpty)
        guard case .complete(let body, let usage, let cost) = reply.body else { return }
        reply.finish(
            Receipt(
                provider: reply.provider,
                model: reply.model,
                attempts: reply.attempts,
                cacheStatus: .bypass,
                status: 200,
                usage: usage,
                cost: cost,
                timeToFirstToken: nil,
                latency: .milliseconds(12),
                error: nil,
                responseBody: Array(body.readableBytesView)
            )
        )
        var records: [ShadowRecord] = []
        for _ in 0..<200 where records.isEmpty {
            try await Task.sleep(for: .milliseconds(10))
            records = traffic.records()
        }
        let record = try #require(records.first)
        #expect(record.requestID == "req_t")
        #expect(record.model == "m")
        #expect(record.primary.route == "a/x")
        #expect(record.primary.output == "from a")
        #expect(record.primary.outputTokens == 2)
        #expect(record.primary.costUSD == 7.0 / 1_000_000)
        #expect(record.shadow.model == "n")
        #expect(record.shadow.route == "b/y")
        #expect(record.shadow.output == "from b")
        #expect(record.shadow.outputTokens == 7)
        #expect(record.shadow.status == 200)
        try await Task.sleep(for: .milliseconds(50))
        #expect(primary.keysUsed.count == 1)
        #expect(candidate.keysUsed.count == 1)
        #expect(traffic.records().count == 1)
    }
}
