// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import SwitchyardCore

/// The `simulator` dialect: the built-in provider that invents deterministic answers.
///
/// - Configuration keys beyond the common ones (all optional): `ttft` (duration, default 100ms),
///   `tokens_per_second` (default 200), `failure_rate` (0 to 1, default 0) and `failures` (the kinds
///   drawn from: `rate_limit`, `server_error`, `timeout`, `broken_stream`; default all).
/// - Embedded default: always present, as `simulator`, so a machine with no keys serves every catalog model.
public struct SimulatorDialect: ProviderDialect {
    /// `simulator`.
    public let name = "simulator"
    /// Its own `gen_ai.provider.name`: the conventions name no simulator.
    public let genAIProviderName = "switchyard.simulator"
    /// The timing and failure keys.
    public var settingKeys: [String] { SettingKeys.allCases.map(\.rawValue) }

    private enum SettingKeys: String, CodingKey, CaseIterable {
        case ttft, failures
        case tokensPerSecond = "tokens_per_second"
        case failureRate = "failure_rate"
    }

    /// Creates the dialect.
    public init() {}

    /// Reads the timing and failure keys, each range-checked.
    public func decodeSettings(from decoder: any Decoder) throws -> any ProviderSettings {
        let c = try decoder.container(keyedBy: SettingKeys.self)
        var settings = SimulatorSettings()
        settings.ttft = try c.decodeDurationIfPresent(forKey: .ttft, atLeast: .zero) ?? settings.ttft
        settings.tokensPerSecond =
            try c.decodeIfPresent(Double.self, forKey: .tokensPerSecond, within: 0.001...1_000_000)
            ?? settings.tokensPerSecond
        settings.failureRate = try c.decodeIfPresent(Double.self, forKey: .failureRate, within: 0...1) ?? 0
        settings.failures =
            try c.decodeIfPresent([SimulatorSettings.Failure].self, forKey: .failures)
            ?? SimulatorSettings.Failure.allCases
        return settings
    }

    /// The simulator is always there.
    public func environmentDefaults(
        _ environment: [String: String]
    ) -> [(
        name: String, configuration: ProviderConfiguration
    )] {
        [("simulator", ProviderConfiguration(type: self.name, settings: SimulatorSettings()))]
    }

    /// A simulator with the decoded settings.
    public func makeProvider(
        name: String,
        configuration: ProviderConfiguration,
        services: ProviderServices
    ) throws -> any Provider {
        SimulatorProvider(name: name, settings: configuration.settings as? SimulatorSettings ?? SimulatorSettings())
    }
}

/// How the built-in simulator behaves.
public struct SimulatorSettings: ProviderSettings, Equatable {
    /// Delay before the first token.
    public var ttft: Duration = .milliseconds(100)
    /// Output speed after the first token.
    public var tokensPerSecond: Double = 200
    /// Share of calls, 0 to 1, that fail with one of `failures`.
    public var failureRate: Double = 0
    /// Failure kinds drawn from when a call fails.
    public var failures: [Failure] = Failure.allCases

    /// Creates settings.
    public init(
        ttft: Duration = .milliseconds(100),
        tokensPerSecond: Double = 200,
        failureRate: Double = 0,
        failures: [Failure] = Failure.allCases
    ) {
        self.ttft = ttft
        self.tokensPerSecond = tokensPerSecond
        self.failureRate = failureRate
        self.failures = failures
    }

    /// An injected failure.
    public enum Failure: String, Sendable, Decodable, CaseIterable {
        /// HTTP 429 with `Retry-After: 1`.
        case rateLimit = "rate_limit"
        /// HTTP 500.
        case serverError = "server_error"
        /// No answer until the first-token timeout.
        case timeout
        /// A stream that stops halfway.
        case brokenStream = "broken_stream"
    }
}

/// The built-in provider: answers every model with deterministic text, locally, in OpenAI's format.
///
/// The answer is derived from the prompt, so the same request gets the same reply (and the same
/// token counts) every time. Time to first token, output speed and failures are configurable,
/// which makes it the embedded default for a machine with no keys and the upstream for demos
/// and load tests.
public struct SimulatorProvider: Provider {
    /// The provider's configured name.
    public let name: String
    /// Timing and failure settings.
    public let settings: SimulatorSettings
    /// Its answers are invented.
    public var inventsAnswers: Bool { true }

    /// Creates a simulator.
    public init(name: String, settings: SimulatorSettings) {
        self.name = name
        self.settings = settings
    }

    /// Answers a chat completion after the configured delays.
    public func chat(_ request: ChatRequest, on route: Route, context: UpstreamContext) async throws -> UpstreamResponse
    {
        let failure = self.drawFailure()
        try await self.failBeforeAnswer(failure, context: context)
        let reply = SimulatedReply(request: request, model: route.upstreamModel)
        if request.isStreaming {
            return .stream(
                ByteStream(
                    SimulatedEventStream(
                        events: reply.streamEvents(),
                        ttft: self.settings.ttft,
                        interval: .seconds(1 / self.settings.tokensPerSecond),
                        breaksAfter: failure == .brokenStream ? reply.outputTokenCount / 2 + 1 : nil
                    )
                )
            )
        }
        let generation = self.settings.ttft + .seconds(Double(reply.outputTokenCount) / self.settings.tokensPerSecond)
        // Sub-millisecond pauses cost more in timer overhead than they simulate.
        if generation >= .milliseconds(1) {
            try await Task.sleep(for: generation)
        } else {
            try Task.checkCancellation()
        }
        if failure == .brokenStream {
            throw ProviderError(kind: .connection, message: "simulated connection reset before the body was complete")
        }
        return .complete(ByteBuffer(bytes: reply.completionJSON()))
    }

    /// Answers an embeddings call with deterministic unit vectors.
    public func embeddings(
        _ request: EmbeddingsRequest,
        on route: Route,
        context: UpstreamContext
    ) async throws
        -> UpstreamResponse
    {
        try await self.failBeforeAnswer(self.drawFailure(), context: context)
        let native = route.catalogModel?.dimensions ?? 1536
        if let requested = request.dimensions, requested > native {
            // As the real APIs do: a model cannot return more dimensions than it has.
            throw ProviderError(
                kind: .invalidRequest,
                status: 400,
                message: "`dimensions` must be at most \(native) for \(route.upstreamModel); got \(requested)"
            )
        }
        let dimensions = request.dimensions ?? native
        return .complete(
            ByteBuffer(
                bytes: SimulatedEmbeddings(request: request, model: route.upstreamModel, dimensions: dimensions).json()
            )
        )
    }

    private func drawFailure() -> SimulatorSettings.Failure? {
        guard self.settings.failureRate > 0, !self.settings.failures.isEmpty,
            Double.random(in: 0..<1) < self.settings.failureRate
        else { return nil }
        return self.settings.failures.randomElement()
    }

    private func failBeforeAnswer(_ failure: SimulatorSettings.Failure?, context: UpstreamContext) async throws {
        switch failure {
        case .rateLimit:
            throw ProviderError(
                kind: .rateLimited,
                status: 429,
                message: "simulated rate limit",
                retryAfter: .seconds(1)
            )
        case .serverError:
            throw ProviderError(kind: .server, status: 500, message: "simulated server error")
        case .timeout:
            try await Task.sleep(for: context.firstTokenTimeout)
            throw ProviderError(kind: .timeout, message: "simulated timeout")
        case .brokenStream, nil:
            return
        }
    }
}

/// Pre-built SSE events released one by one at the simulated pace.
struct SimulatedEventStream: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let events: [ByteBuffer]
    let ttft: Duration
    let interval: Duration
    let breaksAfter: Int?

    func makeAsyncIterator() -> Iterator { Iterator(stream: self) }

    struct Iterator: AsyncIteratorProtocol {
        let stream: SimulatedEventStream
        var position = 0

        mutating func next() async throws -> ByteBuffer? {
            guard position < self.stream.events.count, position != self.stream.breaksAfter else { return nil }
            // Sub-millisecond pauses cost more in timer overhead than they simulate.
            let wait = position == 0 ? self.stream.ttft : self.stream.interval
            if wait >= .milliseconds(1) { try await Task.sleep(for: wait) } else { try Task.checkCancellation() }
            defer { self.position += 1 }
            return self.stream.events[self.position]
        }
    }
}

/// The deterministic answer to one chat request.
struct SimulatedReply {
    let model: String
    let id: String
    let created: Int
    let choices: [Choice]
    let promptTokens: Int

    struct Choice {
        var words: [String]
        var toolCall: String?
        var isJSON: Bool

        var content: String {
            let text = self.words.joined(separator: " ")
            return self.isJSON ? #"{"answer": "\#(text)"}"# : text
        }
    }

    init(request: ChatRequest, model: String) {
        self.model = model
        let seed = fnv1a(request.lastUserText + "|" + model)
        self.id = "chatcmpl-sim" + String(seed, radix: 16)
        self.created = Int(Date().timeIntervalSince1970)
        self.promptTokens = max(1, (request.promptCharacterCount + 3) / 4)
        let limit = request.maxOutputTokens ?? .max
        let forcedTool: String? =
            switch request.toolChoice {
            case "required": request.toolNames.first
            case nil, "auto", "none": nil
            case let name?: request.toolNames.contains(name) ? name : nil
            }
        self.choices = (0..<request.choiceCount).map { index in
            var generator = SeededGenerator(seed: seed &+ UInt64(index))
            let count = min(limit, 12 + Int(generator.next() % 36))
            let words = (0..<max(1, count)).map { _ in vocabulary[Int(generator.next() % UInt64(vocabulary.count))] }
            return Choice(
                words: words,
                toolCall: forcedTool,
                isJSON: request.responseFormat == "json_object" || request.responseFormat == "json_schema"
            )
        }
    }

    /// Output tokens: one per word, or a fixed few for a tool call.
    var outputTokenCount: Int {
        self.choices.reduce(0) { $0 + ($1.toolCall != nil ? 8 : $1.words.count) }
    }

    private var usage: [String: Int] {
        [
            "prompt_tokens": self.promptTokens, "completion_tokens": self.outputTokenCount,
            "total_tokens": self.promptTokens + self.outputTokenCount,
        ]
    }

    func completionJSON() -> [UInt8] {
        let choices: [[String: Any]] = self.choices.enumerated().map { index, choice in
            var message: [String: Any] = [
                "role": "assistant", "content": choice.toolCall == nil ? choice.content : NSNull(),
            ]
            if let tool = choice.toolCall {
                message["tool_calls"] = [
                    ["id": "call_sim\(index)", "type": "function", "function": ["name": tool, "arguments": "{}"]]
                ]
            }
            return [
                "index": index, "message": message, "logprobs": NSNull(),
                "finish_reason": choice.toolCall == nil ? "stop" : "tool_calls",
            ]
        }
        return json([
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": choices, "usage": self.usage, "system_fingerprint": "switchyard-simulator",
        ])
    }

    func streamEvents() -> [ByteBuffer] {
        func chunk(_ choices: [[String: Any]], usage: [String: Int]? = nil) -> ByteBuffer {
            var object: [String: Any] = [
                "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": choices, "system_fingerprint": "switchyard-simulator",
            ]
            if let usage { object["usage"] = usage }
            var buffer = ByteBuffer(string: "data: ")
            buffer.writeBytes(json(object))
            buffer.writeString("\n\n")
            return buffer
        }
        var events: [ByteBuffer] = []
        for (index, choice) in self.choices.enumerated() {
            events.append(
                chunk([["index": index, "delta": ["role": "assistant", "content": ""], "finish_reason": NSNull()]])
            )
            if let tool = choice.toolCall {
                let call: [String: Any] = [
                    "index": 0, "id": "call_sim\(index)", "type": "function",
                    "function": ["name": tool, "arguments": "{}"],
                ]
                events.append(chunk([["index": index, "delta": ["tool_calls": [call]], "finish_reason": NSNull()]]))
            } else {
                let pieces =
                    choice.isJSON
                    ? [choice.content]
                    : choice.words.enumerated().map { $0.offset == 0 ? $0.element : " " + $0.element }
                for piece in pieces {
                    events.append(chunk([["index": index, "delta": ["content": piece], "finish_reason": NSNull()]]))
                }
            }
            events.append(
                chunk([
                    [
                        "index": index, "delta": [String: Any](),
                        "finish_reason": choice.toolCall == nil ? "stop" : "tool_calls",
                    ]
                ])
            )
        }
        events.append(chunk([], usage: self.usage))
        events.append(ByteBuffer(string: "data: [DONE]\n\n"))
        return events
    }
}

/// Deterministic embeddings: a seeded unit vector per input.
struct SimulatedEmbeddings {
    let request: EmbeddingsRequest
    let model: String
    let dimensions: Int

    func json() -> [UInt8] {
        let vectors = self.request.inputs.map { text in
            var generator = SeededGenerator(seed: fnv1a(text))
            var vector = (0..<self.dimensions).map { _ in Float(Double(generator.next() % 2_000_001) / 1_000_000 - 1) }
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 0 { vector = vector.map { $0 / norm } }
            return vector.map { Double($0) }
        }
        return EmbeddingsAnswer.json(
            vectors: vectors,
            model: self.model,
            encodingFormat: self.request.encodingFormat,
            promptTokens: max(1, (self.request.characterCount + 3) / 4)
        )
    }
}

/// SplitMix64: tiny, fast and the same on every platform, so simulated answers are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func fnv1a(_ text: String) -> UInt64 {
    text.utf8.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
}

func json(_ object: [String: Any]) -> [UInt8] {
    (try? Array(JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))) ?? Array("{}".utf8)
}

private let vocabulary = [
    "the", "gateway", "routes", "each", "request", "to", "a", "provider", "and", "streams", "tokens", "back", "with",
    "low", "latency", "while", "tracking", "cost", "per", "call", "fallback", "keeps", "answers", "flowing", "when",
    "one", "route", "fails", "simulated", "model", "replies", "deterministically", "from", "prompt", "so", "tests",
    "stay", "repeatable", "every", "time", "switchyard", "measures", "usage", "caches", "results", "logs", "calls",
]
