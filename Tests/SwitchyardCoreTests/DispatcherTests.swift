// SPDX-License-Identifier: Apache-2.0

import Logging
import NIOCore
import SwitchyardProviders
import Synchronization
import Testing

@testable import SwitchyardCore

/// A provider that answers from a script, one entry per call, and counts calls.
final class ScriptedProvider: Provider {
    let name: String
    let inventsAnswers: Bool
    private let script: Mutex<[Result<String, ProviderError>]>
    private let count = Mutex(0)

    init(_ name: String, _ script: [Result<String, ProviderError>], inventsAnswers: Bool = false) {
        self.name = name
        self.inventsAnswers = inventsAnswers
        self.script = Mutex(script)
    }

    var calls: Int { self.count.withLock { $0 } }

    func chat(_ request: ChatRequest, on route: Route, context: UpstreamContext) async throws -> UpstreamResponse {
        self.count.withLock { $0 += 1 }
        let next = self.script.withLock { $0.isEmpty ? .success("{}") : $0.removeFirst() }
        return .complete(ByteBuffer(string: try next.get()))
    }

    func embeddings(
        _ request: EmbeddingsRequest,
        on route: Route,
        context: UpstreamContext
    ) async throws -> UpstreamResponse {
        throw ProviderError(kind: .invalidRequest, message: "no embeddings")
    }
}

/// Records the dispatcher's waits instead of sleeping.
final class WaitLog: Sendable {
    private let waits = Mutex<[Duration]>([])
    func record(_ wait: Duration) { self.waits.withLock { $0.append(wait) } }
    var all: [Duration] { self.waits.withLock { $0 } }
}

struct DispatcherTests {
    static let ok = #"{"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3}}"#

    func dispatcher(_ providers: [ScriptedProvider], attempts: Int = 2, waits: WaitLog? = nil) throws -> Dispatcher {
        var configuration = GatewayConfiguration()
        for provider in providers { configuration.providers[provider.name] = ProviderConfiguration(type: "openai") }
        configuration.models["m"] = ModelConfiguration(
            routes: providers.map { RouteConfiguration(provider: $0.name, model: "x") }
        )
        let table = try ModelTable(
            configuration: configuration,
            catalog: Catalog(models: []),
            providers: Dictionary(uniqueKeysWithValues: providers.map { ($0.name, $0 as any Provider) })
        )
        return Dispatcher(
            models: table,
            retries: RetryConfiguration(
                attempts: attempts,
                initialBackoff: .milliseconds(100),
                maxBackoff: .seconds(2)
            ),
            pause: { wait in waits?.record(wait) }
        )
    }

    func call(_ body: String = #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#) throws -> Call {
        var call = Call(
            id: "req_test",
            endpoint: .chatCompletions,
            body: Array(body.utf8),
            presentedKey: nil,
            logger: Logger(label: "test")
        )
        call.chat = try ChatRequest(body: call.body)
        return call
    }

    @Test("Retries a retryable failure with growing backoff, then falls back, counting every attempt")
    func retriesThenFallsBack() async throws {
        let first = ScriptedProvider(
            "a",
            [
                .failure(.init(kind: .server, status: 503, message: "busy")),
                .failure(.init(kind: .connection, message: "reset")),
                .failure(.init(kind: .server, status: 500, message: "x")),
            ]
        )
        let second = ScriptedProvider("b", [.success(Self.ok)])
        let waits = WaitLog()
        let reply = try await dispatcher([first, second], attempts: 3, waits: waits).dispatch(try call())
        #expect(first.calls == 3 && second.calls == 1)
        #expect(reply.provider == "b")
        #expect(reply.attempts.map { $0.route } == ["a/x", "a/x", "a/x", "b/x"])
        #expect(reply.attempts.last?.failure == nil)
        let recorded = waits.all
        #expect(recorded.count == 2)
        // Jitter scales each wait by 0.5…1.5 around 100ms, then 200ms.
        #expect(recorded[0] >= .milliseconds(50) && recorded[0] <= .milliseconds(150))
        #expect(recorded[1] >= .milliseconds(100) && recorded[1] <= .milliseconds(300))
    }

    @Test("A route whose dialect cannot express the request is skipped, not retried; none left is a 400 naming it")
    func skipsUnsupportedRoutes() async throws {
        let unsupported = ProviderError(
            kind: .unsupported,
            status: 400,
            message: "`logprobs` is not supported on Anthropic routes",
            param: "logprobs"
        )
        let first = ScriptedProvider("a", [.failure(unsupported)])
        let second = ScriptedProvider("b", [.success(Self.ok)])
        let reply = try await dispatcher([first, second], attempts: 3).dispatch(try call())
        #expect(first.calls == 1 && second.calls == 1)
        #expect(reply.provider == "b")
        // A skipped route made no upstream attempt.
        #expect(reply.attempts.map { $0.route } == ["b/x"])

        let only = [ScriptedProvider("a", [.failure(unsupported)]), ScriptedProvider("b", [.failure(unsupported)])]
        let error = try await #require(throws: GatewayError.self) {
            try await self.dispatcher(only, attempts: 3).dispatch(try self.call())
        }
        #expect(error.status == .badRequest && error.param == "logprobs" && error.code == "capability_not_supported")
        #expect(error.message.contains("a/x: `logprobs`") && error.message.contains("b/x: `logprobs`"))
        #expect(only[0].calls == 1 && only[1].calls == 1)
    }

    @Test("Honours a short Retry-After and skips waiting for a long one")
    func honoursRetryAfter() async throws {
        let short = ScriptedProvider(
            "a",
            [
                .failure(.init(kind: .rateLimited, status: 429, message: "slow down", retryAfter: .seconds(1))),
                .success(Self.ok),
            ]
        )
        let waits = WaitLog()
        _ = try await dispatcher([short], waits: waits).dispatch(try call())
        #expect(waits.all == [.seconds(1)])
        #expect(short.calls == 2)

        let long = ScriptedProvider(
            "a",
            [.failure(.init(kind: .rateLimited, status: 429, message: "later", retryAfter: .seconds(60)))]
        )
        let next = ScriptedProvider("b", [.success(Self.ok)])
        let noWaits = WaitLog()
        let reply = try await dispatcher([long, next], waits: noWaits).dispatch(try call())
        #expect(long.calls == 1 && next.calls == 1 && reply.provider == "b")
        #expect(noWaits.all.isEmpty)
    }

    @Test("The retry budget moves on to the next route once retries exceed their share of recent requests")
    func limitsRetriesToTheBudget() async throws {
        var configuration = GatewayConfiguration()
        configuration.providers = [
            "a": ProviderConfiguration(type: "openai"), "b": ProviderConfiguration(type: "openai"),
        ]
        configuration.models["m"] = ModelConfiguration(routes: [
            .init(provider: "a", model: "x"), .init(provider: "b", model: "x"),
        ])
        // Without cooldown: `a` would be skipped after its fifth failure, which is not what this test is about.
        configuration.models["m"]?.cooldown = .off
        let failing = ScriptedProvider(
            "a",
            Array(repeating: .failure(.init(kind: .server, status: 500, message: "down")), count: 100)
        )
        let healthy = ScriptedProvider("b", [])
        let table = try ModelTable(
            configuration: configuration,
            catalog: Catalog(models: []),
            providers: ["a": failing, "b": healthy]
        )
        let dispatcher = Dispatcher(
            models: table,
            retries: RetryConfiguration(attempts: 3, initialBackoff: .zero, maxBackoff: .zero),
            retryBudget: RetryBudget(share: 0.2, minimumRetries: 2),
            pause: { _ in }
        )
        for _ in 0..<10 { _ = try await dispatcher.dispatch(try call()) }
        // Ten calls: ten first attempts on `a`, and only max(2, 20% of 10) = 2 retries, not 20.
        #expect(failing.calls == 12)
        #expect(healthy.calls == 10)
    }

    @Test("Counts retries per provider over two windows, then forgets them")
    func budgetWindows() {
        let start = ContinuousClock.now
        let budget = RetryBudget(share: 0.5, minimumRetries: 1, window: .seconds(10), now: start)
        for _ in 0..<4 { budget.recordRequest("a", now: start) }
        #expect(budget.spendRetry("a", now: start) && budget.spendRetry("a", now: start))
        #expect(!budget.spendRetry("a", now: start))
        // Another provider has its own budget.
        #expect(budget.spendRetry("b", now: start))
        // One window on, the earlier counts still apply; two windows on, they are gone.
        #expect(!budget.spendRetry("a", now: start + .seconds(11)))
        #expect(budget.spendRetry("a", now: start + .seconds(35)))
    }

    @Test("Skips fallback models the caller's key may not use")
    func fallbacksHonourAllowLists() async throws {
        var configuration = GatewayConfiguration()
        configuration.providers = [
            "a": ProviderConfiguration(type: "openai"), "b": ProviderConfiguration(type: "openai"),
        ]
        configuration.models["m"] = ModelConfiguration(
            routes: [.init(provider: "a", model: "x")],
            fallbacks: ["secret"]
        )
        configuration.models["secret"] = ModelConfiguration(routes: [.init(provider: "b", model: "y")])
        let failing = ScriptedProvider(
            "a",
            Array(repeating: .failure(.init(kind: .server, status: 500, message: "down")), count: 2)
        )
        let hidden = ScriptedProvider("b", [])
        let table = try ModelTable(
            configuration: configuration,
            catalog: Catalog(models: []),
            providers: ["a": failing, "b": hidden]
        )
        let dispatcher = Dispatcher(models: table, retries: RetryConfiguration(attempts: 1), pause: { _ in })
        var call = try call()
        call.caller = Caller(keyName: "team", allowedModels: ["m"])
        await #expect(throws: GatewayError.self) { _ = try await dispatcher.dispatch(call) }
        #expect(hidden.calls == 0)
        call.caller = Caller(keyName: "admin")
        _ = try await dispatcher.dispatch(call)
        #expect(hidden.calls == 1)
    }

    @Test("Answers 504 when every attempt timed out, 502 otherwise")
    func reportsExhaustion() async throws {
        let slow = ScriptedProvider(
            "a",
            Array(repeating: .failure(.init(kind: .timeout, message: "no answer")), count: 2)
        )
        await #expect {
            _ = try await dispatcher([slow]).dispatch(try call())
        } throws: { ($0 as? GatewayError)?.status == .gatewayTimeout }

        let broken = ScriptedProvider("a", [.success("not json"), .success(Self.ok)])
        await #expect {
            _ = try await dispatcher([broken]).dispatch(try call())
        } throws: { error in
            let error = error as? GatewayError
            return error?.status == .badGateway && error?.message.contains("not a JSON object") == true
        }
        #expect(broken.calls == 1)
    }

    @Test("Adds usage.cost from the route's prices")
    func pricesReplies() async throws {
        var configuration = GatewayConfiguration()
        configuration.providers["a"] = ProviderConfiguration(type: "openai")
        configuration.models["m"] = ModelConfiguration(routes: [
            RouteConfiguration(provider: "a", model: "x", pricing: Pricing(input: 1, output: 1))
        ])
        let provider = ScriptedProvider("a", [.success(Self.ok)])
        let table = try ModelTable(
            configuration: configuration,
            catalog: Catalog(models: []),
            providers: ["a": provider]
        )
        let reply = try await Dispatcher(models: table, retries: RetryConfiguration()).dispatch(try call())
        guard case .complete(let body, let usage, let cost) = reply.body else {
            Issue.record("expected a complete body")
            return
        }
        #expect(usage == TokenUsage(inputTokens: 2, outputTokens: 3))
        #expect(cost == 5.0 / 1_000_000)
        #expect(String(buffer: body).contains(#""cost":0.000005"#))
    }
}

struct ModelTableTests {
    @Test("Catalog models get configured providers' routes, the simulator only models no real provider serves")
    func buildsRoutes() throws {
        let catalog = try Catalog.bundled()
        var configuration = GatewayConfiguration.embeddedDefault(environment: ["GROQ_API_KEY": "k"])
        configuration.store = .memory
        let providers: [String: any Provider] = [
            "groq": ScriptedProvider("groq", []), "simulator": ScriptedProvider("simulator", [], inventsAnswers: true),
        ]
        let table = try ModelTable(configuration: configuration, catalog: catalog, providers: providers)
        let llama = try #require(table.resolve("llama-3.3-70b"))
        #expect(llama.routes.map(\.provider.name) == ["groq"])
        #expect(table.resolve("gpt-4o-mini")?.routes.map(\.provider.name) == ["simulator"])
        #expect(table.simulatedNames.contains("gpt-4o-mini"))
        #expect(!table.simulatedNames.contains("llama-3.3-70b"))
        // The simulator still plays a real provider's model when asked by name, and only catalog models.
        #expect(table.resolve("simulator/llama-3.3-70b")?.routes.map(\.provider.name) == ["simulator"])
        #expect(table.resolve("simulator/made-up-model") == nil)
        #expect(table.isKnown("llama-3.3-70b") && table.isKnown("groq/llama-3.3-70b-versatile"))
        #expect(!table.isKnown("groq/some-new-model") && !table.isKnown("simulator/made-up-model"))
        #expect(llama.routes[0].upstreamModel == "llama-3.3-70b-versatile")
        #expect(llama.routes[0].pricing != nil)
        #expect(table.publicNames.count == catalog.models.count)
        #expect(table.resolve("groq/some-new-model")?.routes.first?.upstreamModel == "some-new-model")
        #expect(table.resolve("nobody/gpt-4o") == nil)
        #expect(table.resolve("no-such-model") == nil)
    }

    @Test("Routes refuse requests beyond their capabilities and limits")
    func refusesBeyondLimits() {
        let route = Route(
            provider: ScriptedProvider("a", []),
            upstreamModel: "x",
            contextWindow: 1000,
            maxOutputTokens: 100,
            capabilities: Capabilities(streaming: true)
        )
        #expect(route.refusal(for: RouteRequirements(streaming: true)) == nil)
        #expect(route.refusal(for: RouteRequirements(tools: true))?.param == "tools")
        #expect(route.refusal(for: RouteRequirements(vision: true))?.reason == "no image input")
        #expect(route.refusal(for: RouteRequirements(jsonSchema: true))?.param == "response_format")
        #expect(route.refusal(for: RouteRequirements(maxOutputTokens: 101))?.kind == .maxOutput(limit: 100))
        #expect(route.refusal(for: RouteRequirements(estimatedPromptTokens: 1001))?.kind == .contextWindow(1000))
    }
}

struct ChatStreamTests {
    static let usageEvent = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":6}}\n\n"

    func relay(_ chunks: [String], clientWantsUsage: Bool) async throws -> (String, ChatStream.Outcome.Values) {
        let upstream = ByteStream(
            AsyncStream<ByteBuffer> { continuation in
                for chunk in chunks { continuation.yield(ByteBuffer(string: chunk)) }
                continuation.finish()
            }
        )
        let stream = ChatStream(
            upstream: upstream,
            clientWantsUsage: clientWantsUsage,
            pricing: Pricing(input: 1, output: 2),
            startedAt: .now
        )
        var output = ""
        for try await chunk in stream { output += String(buffer: chunk) }
        return (output, stream.outcome.values)
    }

    @Test("Strips the usage chunk the client did not ask for, keeping its numbers for accounting")
    func stripsUsage() async throws {
        let (output, outcome) = try await relay(
            [
                "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\nda",
                "ta: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":6}}\n\ndata: [DONE]\n\n",
            ],
            clientWantsUsage: false
        )
        #expect(output == "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n")
        #expect(outcome.usage == TokenUsage(inputTokens: 4, outputTokens: 6))
        #expect(outcome.cost == 16.0 / 1_000_000)
        #expect(outcome.timeToFirstToken != nil)
    }

    @Test("Adds the cost to the usage chunk the client asked for")
    func keepsUsageWithCost() async throws {
        let (output, _) = try await relay([Self.usageEvent, "data: [DONE]\n\n"], clientWantsUsage: true)
        #expect(output.contains(#""completion_tokens":6,"cost":0.000016}"#))
    }

    @Test("A stream past its total deadline ends with a timeout")
    func endsStreamsAtTheDeadline() async throws {
        let upstream = ByteStream(
            AsyncStream<ByteBuffer> { continuation in
                continuation.yield(ByteBuffer(string: "data: {\"choices\":[]}\n\n"))
                continuation.finish()
            }
        )
        let stream = ChatStream(
            upstream: upstream,
            clientWantsUsage: false,
            pricing: nil,
            startedAt: .now,
            deadline: .now - .seconds(1)
        )
        var iterator = stream.makeAsyncIterator()
        await #expect { _ = try await iterator.next() } throws: { ($0 as? ProviderError)?.kind == .timeout }
    }

    @Test("A stream that ends without [DONE] throws after relaying what arrived")
    func detectsTruncation() async throws {
        let upstream = ByteStream(
            AsyncStream<ByteBuffer> { continuation in
                continuation.yield(ByteBuffer(string: "data: {\"choices\":[]}\n\n"))
                continuation.finish()
            }
        )
        let stream = ChatStream(upstream: upstream, clientWantsUsage: false, pricing: nil, startedAt: .now)
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next() != nil)
        await #expect(throws: ProviderError.self) { _ = try await iterator.next() }
    }
}
