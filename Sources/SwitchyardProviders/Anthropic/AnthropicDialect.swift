// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import SwitchyardCore

/// The `anthropic` dialect: Anthropic's Messages API.
///
/// - Configuration: the common keys; `base_url` with or without `/v1` (default
///   `https://api.anthropic.com`); `api_key` is sent as `x-api-key`.
/// - Embedded default: `anthropic` when `ANTHROPIC_API_KEY` is set.
public struct AnthropicDialect: ProviderDialect {
    /// `anthropic`.
    public let name = "anthropic"

    /// Creates the dialect.
    public init() {}

    /// `anthropic` from `ANTHROPIC_API_KEY` (and `ANTHROPIC_BASE_URL`, as Anthropic's SDKs read it).
    public func environmentDefaults(
        _ environment: [String: String]
    ) -> [(
        name: String, configuration: ProviderConfiguration
    )] {
        guard let key = environment["ANTHROPIC_API_KEY"], !key.isEmpty else { return [] }
        let baseURL = environment["ANTHROPIC_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        return [("anthropic", ProviderConfiguration(type: self.name, baseURL: baseURL, apiKey: key))]
    }

    /// A translating provider for Anthropic's API.
    public func makeProvider(
        name: String,
        configuration: ProviderConfiguration,
        services: ProviderServices
    ) throws -> any Provider {
        var root = configuration.baseURL ?? "https://api.anthropic.com"
        while root.hasSuffix("/") { root.removeLast() }
        if !root.hasSuffix("/v1") { root += "/v1" }
        return TranslatingProvider(
            name: name,
            translator: AnthropicTranslator(
                baseURL: root,
                apiKey: configuration.apiKey,
                apiKeys: configuration.apiKeys,
                extraHeaders: configuration.headers,
                proxy: try services.proxy(for: root, provider: name, configuration: configuration)
            ),
            transport: services.transport
        )
    }
}

/// Translates OpenAI chat requests to Anthropic's Messages API and its answers back.
public struct AnthropicTranslator: ChatTranslator {
    /// The API root including `/v1`, the key (`x-api-key`), extra headers (such as `anthropic-beta`) and proxy.
    public var access: UpstreamAccess

    /// The API version the translation is written against.
    public static let apiVersion = "2023-06-01"
    /// `max_tokens` when neither the request nor the catalog gives one: Anthropic requires it.
    public static let defaultMaxTokens = 4096
    /// Thinking budgets for `reasoning_effort`.
    public static let thinkingBudgets = ["minimal": 1024, "low": 1024, "medium": 4096, "high": 16384]

    /// Creates a translator for the API root including `/v1`; the key goes in `x-api-key`.
    public init(
        baseURL: String,
        apiKey: String?,
        apiKeys: [String] = [],
        extraHeaders: [String: String] = [:],
        proxy: UpstreamProxy? = nil
    ) {
        self.access = UpstreamAccess(
            baseURL: baseURL,
            apiKey: apiKey,
            apiKeys: apiKeys,
            credentials: { [("x-api-key", $0)] },
            extraHeaders: extraHeaders,
            proxy: proxy
        )
    }

    // MARK: Request

    /// The Messages request for `request` on `route`.
    public func makeChatRequest(_ request: OpenAIChat.Request, route: Route) throws -> UpstreamHTTPRequest {
        let translated = try Self.translate(
            request,
            upstreamModel: route.upstreamModel,
            routeMaxOutput: route.maxOutputTokens
        )
        return self.access.post(
            "/messages",
            body: try TranslatedJSON.encode(translated),
            headers: [("anthropic-version", Self.apiVersion)]
        )
    }

    /// The Messages body for an OpenAI request; throws a 400 ``ProviderError`` naming what cannot be expressed.
    public static func translate(
        _ request: OpenAIChat.Request,
        upstreamModel: String,
        routeMaxOutput: Int?
    ) throws -> AnthropicMessages.Request {
        let rules = Self.rules
        let refuse = rules.refusal
        try rules.refuseUnsupported(
            request,
            ["n", "logprobs", "top_logprobs", "logit_bias", "seed", "presence_penalty", "frequency_penalty"]
        )
        if let format = request.response_format?.type, format != "text" {
            throw refuse("response_format", "`\(format)` is not supported")
        }
        if let temperature = request.temperature, temperature > 1 {
            throw refuse("temperature", "above 1 cannot be expressed (Anthropic's range is 0 to 1)")
        }

        let (system, messages): ([AnthropicMessages.ContentBlock], [AnthropicMessages.Message]) =
            try rules.conversation(
                request,
                assistantRole: "assistant",
                // Thinking blocks go back unchanged, signatures included: Anthropic checks them, and
                // with thinking on it refuses a tool-use turn without its thinking.
                assistantPrefix: { index in
                    (request.inboundReasoning.blocks[index] ?? []).compactMap(
                        AnthropicMessages.ContentBlock.init(reasoning:)
                    )
                },
                content: { try Self.blocks($0, at: $1, rules: rules) },
                toolCall: { .toolUse(id: $0.id, name: $0.function.name, input: $1) },
                toolResult: { message, _ in
                    var block = AnthropicMessages.ContentBlock(type: "tool_result")
                    block.tool_use_id = message.tool_call_id ?? message.name ?? ""
                    block.content = .text(message.content?.text ?? "")
                    return block
                }
            )

        var translated = AnthropicMessages.Request(
            model: upstreamModel,
            max_tokens: request.maxOutputTokens ?? routeMaxOutput ?? Self.defaultMaxTokens,
            messages: messages
        )
        if !system.isEmpty {
            let plain = system.allSatisfy { $0.type == "text" && $0.cache_control == nil }
            translated.system =
                plain ? .text(system.compactMap(\.text).joined(separator: "\n\n")) : .list(system)
        }
        translated.stop_sequences = request.stop?.sequences
        translated.temperature = request.temperature
        translated.top_p = request.top_p
        translated.stream = request.stream == true ? true : nil
        if let user = request.user { translated.metadata = AnthropicMessages.Metadata(user_id: user) }
        if let tools = request.tools, !tools.isEmpty {
            translated.tools = tools.map {
                AnthropicMessages.Tool(
                    name: $0.function.name,
                    description: $0.function.description,
                    input_schema: $0.function.parameters ?? .object(["type": .string("object")])
                )
            }
        }
        switch request.tool_choice {
        case .mode("none"): translated.tool_choice = .init(type: "none")
        case .mode("required"): translated.tool_choice = .init(type: "any")
        case .mode("auto"): translated.tool_choice = .init(type: "auto")
        case .function(let name): translated.tool_choice = .init(type: "tool", name: name)
        case .mode(let other): throw refuse("tool_choice", "`\(other)` is not supported")
        case nil: break
        }
        if request.parallel_tool_calls == false, translated.tools != nil {
            var choice = translated.tool_choice ?? .init(type: "auto")
            if choice.type != "none" { choice.disable_parallel_tool_use = true }
            translated.tool_choice = choice
        }
        if let effort = request.reasoning_effort, effort != "none" {
            guard let level = Self.thinkingBudgets[effort] else {
                throw refuse("reasoning_effort", "`\(effort)` is not one of minimal, low, medium, high")
            }
            let budget = request.inboundReasoning.budgetTokens ?? level
            translated.thinking = AnthropicMessages.Thinking(type: "enabled", budget_tokens: budget)
            // The budget counts against max_tokens, which must exceed it.
            if let limit = translated.max_tokens, limit <= budget { translated.max_tokens = budget + limit }
        }
        return translated
    }

    /// Anthropic blocks for an OpenAI message's content.
    static func blocks(
        _ content: OpenAIChat.Content?,
        at index: Int,
        rules: TranslationRules
    ) throws -> [AnthropicMessages.ContentBlock] {
        try rules.parts(content, message: index) { part, image in
            var block: AnthropicMessages.ContentBlock
            switch (part.type, image) {
            case ("text", _):
                block = .text(part.text ?? "")
            case ("image_url", let image?):
                block = AnthropicMessages.ContentBlock(type: "image")
                if let inline = image.inlineData {
                    block.source = .init(type: "base64", media_type: inline.mediaType, data: inline.base64)
                } else {
                    block.source = .init(type: "url", url: image.url)
                }
            default:
                return nil
            }
            block.cache_control = part.cache_control
            return block
        }
    }

    // MARK: Counting tokens

    /// `POST /v1/messages/count_tokens` for a client's count-tokens body, on `upstreamModel`.
    public func makeCountTokensRequest(_ body: [UInt8], upstreamModel: String) throws -> UpstreamHTTPRequest {
        var edited: JSONObjectEditor
        do {
            edited = try JSONObjectEditor(body)
            try edited.set("model", json: JSONText.string(upstreamModel))
        } catch {
            throw ProviderError(kind: .invalidRequest, status: 400, message: "the body is not a JSON object")
        }
        return self.access.post(
            "/messages/count_tokens",
            body: edited.bytes,
            headers: [("anthropic-version", Self.apiVersion)]
        )
    }

    /// The `input_tokens` of a count-tokens answer.
    public func readCountTokens(_ body: [UInt8]) throws -> Int {
        guard let count = JSONNode(parsing: body)?["input_tokens"]?.intValue,
            (0...TokenUsage.maxTokensPerCall).contains(count)
        else {
            throw ProviderError(kind: .invalidResponse, message: "the count is not what the Anthropic API sends")
        }
        return count
    }

    // MARK: Answers

    /// The Messages answer as an OpenAI completion.
    public func readChatResponse(_ body: [UInt8], upstreamModel: String) throws -> OpenAIChat.Response {
        guard let node = JSONNode(parsing: body), let response = AnthropicMessages.Response(answer: node) else {
            throw ProviderError(kind: .invalidResponse, message: "the answer is not what the Anthropic API sends")
        }
        var text = ""
        var reasoning = ""
        var calls: [OpenAIChat.ToolCall] = []
        var thinkingBlocks: [JSONNode] = []
        for block in response.content {
            switch block.type {
            case "text": text += block.text ?? ""
            case "thinking", "redacted_thinking":
                reasoning += block.thinking ?? ""
                if let node = block.jsonNode { thinkingBlocks.append(node) }
            case "tool_use": calls.append(block.openAIToolCall)
            default: break  // redacted thinking and server-side tool blocks have no OpenAI form
            }
        }
        var message = OpenAIChat.Message(
            role: "assistant",
            content: .text(text),
            tool_calls: calls.isEmpty ? nil : calls
        )
        if !reasoning.isEmpty { message.reasoning_content = reasoning }
        if !thinkingBlocks.isEmpty { message.thinking_blocks = thinkingBlocks }
        return OpenAIChat.Response(
            id: response.id,
            created: Self.now(),
            model: response.model,
            choices: [
                OpenAIChat.Choice(index: 0, message: message, finish_reason: Self.finishReason(response.stop_reason))
            ],
            usage: OpenAIChat.Usage(try response.usage.tokenUsage())
        )
    }

    /// OpenAI's `finish_reason` for Anthropic's `stop_reason`.
    public static func finishReason(_ stopReason: String?) -> String? {
        switch stopReason {
        case nil: nil
        case "max_tokens", "model_context_window_exceeded": "length"
        case "tool_use": "tool_calls"
        case "refusal": "content_filter"
        default: "stop"  // end_turn, stop_sequence, pause_turn
        }
    }

    /// A reader for a streamed answer.
    public func makeStreamReader(upstreamModel: String) -> AnthropicStreamReader {
        AnthropicStreamReader(model: upstreamModel, created: Self.now())
    }

    /// Anthropic's error body as a ``ProviderError``; 529 (overloaded) counts as a server error.
    public func parseError(status: Int, headers: [(String, String)], body: [UInt8]) -> ProviderError {
        let decoded = JSONText.decode(AnthropicMessages.ErrorBody.self, from: body)
        let message =
            decoded.map { "\($0.error.type): \($0.error.message)" } ?? String(decoding: body.prefix(300), as: UTF8.self)
        return ProviderError.upstream(status: status, headers: headers, message: message)
    }

    /// How this dialect refuses parameters and reads answers.
    static let rules = TranslationRules(provider: "Anthropic")

    static func now() -> Int { Int(Date().timeIntervalSince1970) }
}

/// Reads Anthropic's streamed events (`message_start`, `content_block_delta`, ...) into OpenAI chunks.
///
/// Unknown event types are skipped: Anthropic's versioning policy says new ones may appear.
public struct AnthropicStreamReader: ChatStreamReader {
    private var decoder = SSEDecoder()
    private var id = ""
    private var model: String
    private let created: Int
    private var usage = AnthropicMessages.Usage()
    /// OpenAI tool-call index for each Anthropic content block index that is a tool use.
    private var toolIndex: [Int: Int] = [:]
    private var stopped = false

    /// Creates a reader; `model` stands until `message_start` names the answering model.
    public init(model: String, created: Int) {
        self.model = model
        self.created = created
    }

    /// The chunks the events in `bytes` make.
    public mutating func read(_ bytes: ByteBuffer) throws -> [OpenAIChat.Chunk] {
        let events = try self.decoder.upstreamEvents(in: bytes)
        var chunks: [OpenAIChat.Chunk] = []
        for event in events where !self.stopped {
            chunks += try self.translate(event)
        }
        return chunks
    }

    /// Throws unless `message_stop` arrived.
    public mutating func finish() throws -> [OpenAIChat.Chunk] {
        guard self.stopped else {
            throw ProviderError(kind: .connection, message: "the Anthropic stream ended before `message_stop`")
        }
        return []
    }

    private mutating func translate(_ event: ServerSentEvent) throws -> [OpenAIChat.Chunk] {
        guard let node = JSONNode(parsing: event.data), let decoded = AnthropicMessages.StreamEvent(answer: node) else {
            throw ProviderError(kind: .invalidResponse, message: "a stream event is not what the Anthropic API sends")
        }
        switch decoded.type {
        case "message_start":
            if let message = decoded.message {
                self.id = message.id
                self.model = message.model
                self.merge(message.usage)
            }
            return [self.chunk(OpenAIChat.Delta(role: "assistant", content: ""))]
        case "content_block_start":
            if let block = decoded.content_block, block.type == "redacted_thinking", let node = block.jsonNode {
                return [self.chunk(OpenAIChat.Delta(thinking_blocks: [node]))]
            }
            guard let block = decoded.content_block, block.type == "tool_use", let index = decoded.index else {
                return []
            }
            let toolIndex = self.toolIndex.count
            self.toolIndex[index] = toolIndex
            return [
                self.chunk(
                    OpenAIChat.Delta(tool_calls: [
                        .init(index: toolIndex, id: block.id, name: block.name, arguments: "")
                    ])
                )
            ]
        case "content_block_delta":
            guard let delta = decoded.delta else { return [] }
            switch delta.type {
            case "text_delta":
                return [self.chunk(OpenAIChat.Delta(content: delta.text ?? ""))]
            case "thinking_delta":
                return [self.chunk(OpenAIChat.Delta(reasoning_content: delta.thinking ?? ""))]
            case "signature_delta":
                // The signature closes the thinking block; clients hand it back with the block.
                let block: JSONNode = .object([
                    "type": .string("thinking"), "signature": .string(delta.signature ?? ""),
                ])
                return [self.chunk(OpenAIChat.Delta(thinking_blocks: [block]))]
            case "input_json_delta":
                guard let index = decoded.index, let toolIndex = self.toolIndex[index] else {
                    throw ProviderError(
                        kind: .invalidResponse,
                        message: "tool input arrived for a block that is no tool use"
                    )
                }
                return [
                    self.chunk(
                        OpenAIChat.Delta(tool_calls: [.init(index: toolIndex, arguments: delta.partial_json ?? "")])
                    )
                ]
            default:
                return []  // kinds added later have no OpenAI form
            }
        case "message_delta":
            if let usage = decoded.usage { self.merge(usage) }
            return [
                self.chunk(
                    OpenAIChat.Delta(),
                    finishReason: AnthropicTranslator.finishReason(decoded.delta?.stop_reason) ?? "stop"
                )
            ]
        case "message_stop":
            self.stopped = true
            var last = self.chunk(nil)
            last.usage = OpenAIChat.Usage(try self.usage.tokenUsage())
            return [last]
        case "error":
            let detail = decoded.error
            let kind: ProviderError.Kind =
                switch detail?.type {
                case "overloaded_error", "api_error": .server
                case "rate_limit_error": .rateLimited
                default: .invalidResponse
                }
            throw ProviderError(
                kind: kind,
                message: "\(detail?.type ?? "error") in the stream: \(detail?.message ?? "no message")"
            )
        default:
            return []  // ping, content_block_stop, and event types added later
        }
    }

    /// Later usage figures replace earlier ones (`message_delta` carries the final output count).
    private mutating func merge(_ usage: AnthropicMessages.Usage) {
        if let value = usage.input_tokens { self.usage.input_tokens = value }
        if let value = usage.output_tokens { self.usage.output_tokens = value }
        if let value = usage.cache_read_input_tokens { self.usage.cache_read_input_tokens = value }
        if let value = usage.cache_creation_input_tokens { self.usage.cache_creation_input_tokens = value }
    }

    private func chunk(_ delta: OpenAIChat.Delta?, finishReason: String? = nil) -> OpenAIChat.Chunk {
        OpenAIChat.Chunk(
            id: self.id,
            created: self.created,
            model: self.model,
            choices: delta.map { [OpenAIChat.ChunkChoice(delta: $0, finish_reason: finishReason)] } ?? []
        )
    }
}

/// A provider that counts a Messages body's input tokens with its own tokenizer.
public protocol AnthropicTokenCounting: Sendable {
    /// The input tokens of `body` (a `count_tokens` body) on `route`.
    func countTokens(anthropicBody body: [UInt8], on route: Route, context: UpstreamContext) async throws -> Int
}

extension TranslatingProvider: AnthropicTokenCounting where Translator == AnthropicTranslator {
    /// Asks Anthropic's `count_tokens`.
    public func countTokens(
        anthropicBody body: [UInt8],
        on route: Route,
        context: UpstreamContext
    ) async throws
        -> Int
    {
        let request = try self.translator.makeCountTokensRequest(body, upstreamModel: route.upstreamModel)
        let translator = self.translator
        let answer = try await self.transport.send(request, streaming: false, context: context) {
            translator.parseError(status: $0, headers: $1, body: $2)
        }
        guard case .complete(let buffer) = answer else {
            throw ProviderError(kind: .invalidResponse, message: "the count arrived as a stream")
        }
        return try translator.readCountTokens(Array(buffer.readableBytesView))
    }
}
