// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import SwitchyardCore

/// The `bedrock` dialect: Amazon Bedrock's Converse and ConverseStream APIs, signed with SigV4.
///
/// - Configuration keys beyond the common ones: `region` (required unless `AWS_REGION` or
///   `AWS_DEFAULT_REGION` is set), `access_key_id`, `secret_access_key`, `session_token` (else the
///   standard `AWS_*` variables). `base_url` defaults to `https://bedrock-runtime.REGION.amazonaws.com`.
///   `api_key` is a Bedrock API key, sent as a bearer token instead of signing.
/// - Embedded default: `bedrock` when `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and a region are set.
public struct BedrockDialect: ProviderDialect {
    /// `bedrock`.
    public let name = "bedrock"
    /// `aws.bedrock`, as OpenTelemetry's GenAI conventions name it.
    public let genAIProviderName = "aws.bedrock"
    /// Region and credentials.
    public var settingKeys: [String] { Keys.allCases.map(\.rawValue) }

    private enum Keys: String, CodingKey, CaseIterable {
        case region
        case accessKeyID = "access_key_id"
        case secretAccessKey = "secret_access_key"
        case sessionToken = "session_token"
    }

    /// Bedrock's settings, as configured (the environment fills the gaps when the provider is made).
    public struct Settings: ProviderSettings, Equatable {
        /// The AWS region.
        public var region: String?
        /// Static credentials from the configuration.
        public var credentials: AWSCredentials?
    }

    /// Creates the dialect.
    public init() {}

    /// Reads the region and credentials; a key pair must be complete.
    public func decodeSettings(from decoder: any Decoder) throws -> any ProviderSettings {
        let c = try decoder.container(keyedBy: Keys.self)
        let region = try c.decodeIfPresent(String.self, forKey: .region)
        if let region, !Self.isRegion(region) {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "region"))` must be an AWS region such as us-east-1; got `\(region)`"
            )
        }
        let id = try c.decodeIfPresent(String.self, forKey: .accessKeyID).flatMap { $0.isEmpty ? nil : $0 }
        let secret = try c.decodeIfPresent(String.self, forKey: .secretAccessKey).flatMap { $0.isEmpty ? nil : $0 }
        guard (id == nil) == (secret == nil) else {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath))` needs both `access_key_id` and `secret_access_key`, or neither"
            )
        }
        let token = try c.decodeIfPresent(String.self, forKey: .sessionToken)
        let credentials = id.flatMap { id in
            secret.map { AWSCredentials(accessKeyID: id, secretAccessKey: $0, sessionToken: token) }
        }
        return Settings(region: region, credentials: credentials)
    }

    static func isRegion(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 32
            && text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }

    /// `bedrock` from the standard AWS variables.
    public func environmentDefaults(
        _ environment: [String: String]
    ) -> [(
        name: String, configuration: ProviderConfiguration
    )] {
        guard Self.credentials(environment) != nil, Self.region(environment) != nil else { return [] }
        return [("bedrock", ProviderConfiguration(type: self.name, settings: Settings()))]
    }

    static func credentials(_ environment: [String: String]) -> AWSCredentials? {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty,
            let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty
        else { return nil }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"])
    }

    static func region(_ environment: [String: String]) -> String? {
        [environment["AWS_REGION"], environment["AWS_DEFAULT_REGION"]].compactMap { $0 }
            .first { Self.isRegion($0) }
    }

    /// A translating provider that signs each request.
    public func makeProvider(
        name: String,
        configuration: ProviderConfiguration,
        services: ProviderServices
    ) throws -> any Provider {
        let settings = configuration.settings as? Settings ?? Settings()
        guard let region = settings.region ?? Self.region(services.environment) else {
            throw ConfigurationError(
                "`providers.\(name).region` is required for `type: bedrock` (or set AWS_REGION)"
            )
        }
        let bearer = configuration.apiKey.flatMap { $0.isEmpty || $0 == "none" ? nil : $0 }
        let credentials = settings.credentials ?? Self.credentials(services.environment)
        guard bearer != nil || credentials != nil else {
            throw ConfigurationError(
                "`providers.\(name)` has no credentials: set `access_key_id` and `secret_access_key` (or the "
                    + "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY variables), or `api_key` for a Bedrock API key"
            )
        }
        let root = configuration.baseURL ?? "https://bedrock-runtime.\(region).amazonaws.com"
        return TranslatingProvider(
            name: name,
            translator: BedrockTranslator(
                access: UpstreamAccess(
                    baseURL: root,
                    apiKey: bearer,
                    apiKeys: configuration.apiKeys,
                    credentials: { [("authorization", "Bearer \($0)")] },
                    extraHeaders: configuration.headers,
                    proxy: try services.proxy(for: root, provider: name, configuration: configuration)
                ),
                signer: bearer == nil
                    ? credentials.map { SigV4Signer(credentials: $0, region: region, service: "bedrock") } : nil
            ),
            transport: services.transport
        )
    }
}

/// Translates OpenAI chat requests to Bedrock's Converse API and its answers back.
public struct BedrockTranslator: ChatTranslator {
    /// The runtime endpoint, extra headers and proxy (and a bearer API key, when one is used).
    public var access: UpstreamAccess
    /// Signs each request; `nil` with a bearer API key.
    public var signer: SigV4Signer?
    /// The clock for signatures (tests fix it).
    public var now: @Sendable () -> Date

    /// Thinking budgets for `reasoning_effort` on Anthropic models: the same as on Anthropic's own API.
    public static let thinkingBudgets = AnthropicTranslator.thinkingBudgets

    /// Creates a translator.
    public init(access: UpstreamAccess, signer: SigV4Signer?, now: @escaping @Sendable () -> Date = { Date() }) {
        self.access = access
        self.signer = signer
        self.now = now
    }

    // MARK: Requests

    /// `POST /model/{id}/converse`, or `/converse-stream`, signed.
    public func makeChatRequest(_ request: OpenAIChat.Request, route: Route) throws -> UpstreamHTTPRequest {
        let body = try Self.translate(request, upstreamModel: route.upstreamModel)
        let operation = request.stream == true ? "converse-stream" : "converse"
        return try self.signed(
            self.access.post(
                "/model/\(SigV4Signer.encode(route.upstreamModel))/\(operation)",
                body: try TranslatedJSON.encode(body)
            )
        )
    }

    /// `InvokeModel` for Cohere (many texts per call) and Titan (one text per call) embedding models.
    public func makeEmbeddingsRequest(
        _ request: EmbeddingsRequest,
        upstreamModel: String
    ) throws -> UpstreamHTTPRequest? {
        let body: JSONNode
        if upstreamModel.contains("cohere.") {
            body = .object([
                "texts": .array(request.inputs.map(JSONNode.string)), "input_type": .string("search_document"),
            ])
        } else if upstreamModel.contains("titan-embed") {
            guard request.inputs.count == 1 else {
                throw ProviderError(
                    kind: .invalidRequest,
                    status: 400,
                    message:
                        "`input` must be one text for Titan embedding models on Bedrock; got \(request.inputs.count)"
                )
            }
            var members: [String: JSONNode] = ["inputText": .string(request.inputs[0])]
            if let dimensions = request.dimensions { members["dimensions"] = .number(Double(dimensions)) }
            body = .object(members)
        } else {
            return nil
        }
        return try self.signed(
            self.access.post(
                "/model/\(SigV4Signer.encode(upstreamModel))/invoke",
                body: try TranslatedJSON.encode(body)
            )
        )
    }

    /// Adds the SigV4 headers, signing `content-type` with the host and date.
    func signed(_ request: UpstreamHTTPRequest) throws -> UpstreamHTTPRequest {
        guard let signer = self.signer else { return request }
        guard let url = UpstreamURL(request.url) else {
            throw ProviderError(kind: .rejected, message: "the Bedrock endpoint is not an http(s) URL")
        }
        var signed = request
        signed.headers += signer.sign(
            method: "POST",
            host: url.endpoint.hostHeader,
            target: url.target,
            headers: [("content-type", "application/json")],
            body: request.body,
            date: self.now()
        )
        return signed
    }

    /// The Converse body for an OpenAI request; throws a 400 ``ProviderError`` naming what cannot be expressed.
    public static func translate(_ request: OpenAIChat.Request, upstreamModel: String) throws -> Wire.ConverseRequest {
        let rules = Self.rules
        try rules.refuseUnsupported(
            request,
            [
                "n", "logprobs", "top_logprobs", "logit_bias", "seed", "presence_penalty", "frequency_penalty",
                "parallel_tool_calls",
            ]
        )
        if let format = request.response_format?.type, format != "text" {
            throw rules.refusal("response_format", "`\(format)` is not supported")
        }
        let (system, messages): ([Wire.Block], [Wire.Message]) = try rules.conversation(
            request,
            assistantRole: "assistant",
            content: { try Self.blocks($0, at: $1, rules: rules) },
            toolCall: { call, arguments in
                var block = Wire.Block()
                block.toolUse = Wire.ToolUse(toolUseId: call.id, name: call.function.name, input: arguments)
                return block
            },
            toolResult: { message, _ in
                let text = message.content?.text ?? ""
                let content: Wire.ToolResultContent =
                    if let json = JSONNode(parsing: Array(text.utf8)), case .object = json {
                        Wire.ToolResultContent(json: json)
                    } else {
                        Wire.ToolResultContent(text: text)
                    }
                var block = Wire.Block()
                block.toolResult = Wire.ToolResult(toolUseId: message.tool_call_id ?? "", content: [content])
                return block
            }
        )
        var body = Wire.ConverseRequest(messages: messages)
        if !system.isEmpty { body.system = system }
        var inference = Wire.InferenceConfig()
        inference.maxTokens = request.maxOutputTokens
        inference.temperature = request.temperature
        inference.topP = request.top_p
        inference.stopSequences = request.stop?.sequences
        if inference != Wire.InferenceConfig() { body.inferenceConfig = inference }
        if let tools = request.tools, !tools.isEmpty {
            var config = Wire.ToolConfig(
                tools: tools.map {
                    Wire.Tool(
                        toolSpec: Wire.ToolSpec(
                            name: $0.function.name,
                            description: $0.function.description,
                            inputSchema: Wire.InputSchema(
                                json: $0.function.parameters ?? .object(["type": .string("object")])
                            )
                        )
                    )
                }
            )
            switch request.tool_choice {
            case .mode("auto"), nil: break
            case .mode("required"): config.toolChoice = .object(["any": .object([:])])
            case .function(let name): config.toolChoice = .object(["tool": .object(["name": .string(name)])])
            case .mode(let other): throw rules.refusal("tool_choice", "`\(other)` cannot be expressed")
            }
            body.toolConfig = config
        } else if request.tool_choice != nil, request.tool_choice != .mode("none") {
            throw rules.refusal("tool_choice", "needs `tools`")
        }
        if let effort = request.reasoning_effort, effort != "none" {
            guard upstreamModel.contains("anthropic."), let level = Self.thinkingBudgets[effort] else {
                throw rules.refusal("reasoning_effort", "`\(effort)` is supported for Anthropic models only")
            }
            let budget = request.inboundReasoning.budgetTokens ?? level
            body.additionalModelRequestFields = .object([
                "thinking": .object(["type": .string("enabled"), "budget_tokens": .number(Double(budget))])
            ])
            if let limit = inference.maxTokens, limit <= budget {
                body.inferenceConfig?.maxTokens = budget + limit
            }
        }
        return body
    }

    /// Converse blocks for an OpenAI message's content; `cache_control` on a part becomes a cache point after it.
    static func blocks(_ content: OpenAIChat.Content?, at index: Int, rules: TranslationRules) throws -> [Wire.Block] {
        let parts: [[Wire.Block]] = try rules.parts(content, message: index) { part, image in
            var block = Wire.Block()
            switch (part.type, image) {
            case ("text", _):
                block.text = part.text ?? ""
            case ("image_url", let image?):
                // Converse takes image bytes only: a URL would have to be fetched, which the gateway does not do.
                guard let inline = image.inlineData, let format = Self.imageFormat(inline.mediaType) else { return nil }
                block.image = Wire.Image(format: format, source: Wire.ImageSource(bytes: inline.base64))
            default:
                return nil
            }
            var blocks = [block]
            if part.cache_control != nil {
                var point = Wire.Block()
                point.cachePoint = .object(["type": .string("default")])
                blocks.append(point)
            }
            return blocks
        }
        return parts.flatMap { $0 }
    }

    static func imageFormat(_ mediaType: String) -> String? {
        switch mediaType {
        case "image/png": "png"
        case "image/jpeg", "image/jpg": "jpeg"
        case "image/gif": "gif"
        case "image/webp": "webp"
        default: nil
        }
    }

    // MARK: Answers

    /// A Converse answer as an OpenAI completion.
    public func readChatResponse(_ body: [UInt8], upstreamModel: String) throws -> OpenAIChat.Response {
        let response = try Self.rules.answer(Wire.ConverseResponse.self, from: body, "the answer")
        var text = ""
        var reasoning = ""
        var calls: [OpenAIChat.ToolCall] = []
        for block in response.output?.message?.content ?? [] {
            if let value = block.text { text += value }
            if let value = block.reasoningContent?.reasoningText?.text { reasoning += value }
            if let use = block.toolUse {
                calls.append(OpenAIChat.ToolCall(id: use.toolUseId, name: use.name, arguments: use.input.text))
            }
        }
        var message = OpenAIChat.Message(
            role: "assistant",
            content: calls.isEmpty || !text.isEmpty ? .text(text) : nil,
            tool_calls: calls.isEmpty ? nil : calls
        )
        if !reasoning.isEmpty { message.reasoning_content = reasoning }
        return OpenAIChat.Response(
            id: "chatcmpl-bedrock-\(UInt32.random(in: 0...UInt32.max))",
            created: Int(self.now().timeIntervalSince1970),
            model: upstreamModel,
            choices: [
                OpenAIChat.Choice(index: 0, message: message, finish_reason: Self.finishReason(response.stopReason))
            ],
            usage: try response.usage.map { OpenAIChat.Usage(try $0.tokenUsage()) }
        )
    }

    /// OpenAI's `finish_reason` for Bedrock's `stopReason`.
    static func finishReason(_ reason: String?) -> String? {
        switch reason {
        case nil: nil
        case "tool_use": "tool_calls"
        case "max_tokens", "model_context_window_exceeded": "length"
        case "guardrail_intervened", "content_filtered": "content_filter"
        default: "stop"
        }
    }

    /// A reader for a ConverseStream answer (binary event stream).
    public func makeStreamReader(upstreamModel: String) -> BedrockStreamReader {
        BedrockStreamReader(model: upstreamModel, created: Int(self.now().timeIntervalSince1970))
    }

    /// Bedrock's error (`{"message": ...}`, the type in `x-amzn-ErrorType`) as a ``ProviderError``.
    public func parseError(status: Int, headers: [(String, String)], body: [UInt8]) -> ProviderError {
        struct Envelope: Decodable {
            var message: String?
            var Message: String?
        }
        let decoded = JSONText.decode(Envelope.self, from: body)
        let type = headers.first { $0.0.lowercased() == "x-amzn-errortype" }?.1.split(separator: ":").first
        let text = decoded.flatMap { $0.message ?? $0.Message } ?? String(decoding: body.prefix(300), as: UTF8.self)
        return ProviderError.upstream(
            status: status,
            headers: headers,
            message: type.map { "\($0): \(text)" } ?? text
        )
    }

    /// A Cohere or Titan embeddings answer as OpenAI's list.
    public func readEmbeddingsResponse(
        _ body: [UInt8],
        request: EmbeddingsRequest,
        upstreamModel: String
    ) throws -> [UInt8] {
        struct Answer: Decodable {
            var embeddings: [[Double]]?
            var embedding: [Double]?
            var inputTextTokenCount: Int?
        }
        let answer = try Self.rules.answer(Answer.self, from: body, "the embeddings answer")
        let vectors = answer.embeddings ?? answer.embedding.map { [$0] } ?? []
        guard vectors.count == request.inputs.count else {
            throw ProviderError(kind: .invalidResponse, message: "the Bedrock answer is not one embedding per input")
        }
        let tokens = answer.inputTextTokenCount.map { min(max(0, $0), TokenUsage.maxTokensPerCall) }
        return EmbeddingsAnswer.json(
            vectors: vectors,
            model: upstreamModel,
            encodingFormat: request.encodingFormat,
            // Cohere on Bedrock reports no token count: estimated as the gateway does elsewhere.
            promptTokens: tokens ?? max(1, (request.characterCount + 3) / 4)
        )
    }

    /// How this dialect refuses parameters and reads answers.
    static let rules = TranslationRules(provider: "Bedrock")
}

/// Reads ConverseStream's binary events (`messageStart`, `contentBlockDelta`, `messageStop`,
/// `metadata`, and exceptions) into OpenAI chunks. The stream is complete once `messageStop`
/// arrived and no partial message is left.
public struct BedrockStreamReader: ChatStreamReader {
    private var decoder = AWSEventStreamDecoder()
    private let model: String
    private let id = "chatcmpl-bedrock-\(UInt32.random(in: 0...UInt32.max))"
    private let created: Int
    private var toolIndex: [Int: Int] = [:]
    private var stopReason: String?
    private var usage: BedrockTranslator.Wire.Usage?
    private var sentRole = false

    /// Creates a reader.
    public init(model: String, created: Int) {
        self.model = model
        self.created = created
    }

    /// The chunks the messages in `bytes` make.
    public mutating func read(_ bytes: ByteBuffer) throws -> [OpenAIChat.Chunk] {
        let messages: [AWSEventMessage]
        do {
            messages = try self.decoder.feed(bytes.readableBytesView)
        } catch {
            throw ProviderError(kind: .invalidResponse, message: error.description)
        }
        var chunks: [OpenAIChat.Chunk] = []
        for message in messages {
            chunks += try self.translate(message)
        }
        return chunks
    }

    /// The usage chunk, once `messageStop` arrived.
    public mutating func finish() throws -> [OpenAIChat.Chunk] {
        guard self.stopReason != nil, !self.decoder.hasPartialMessage else {
            throw ProviderError(kind: .connection, message: "the Bedrock stream ended before `messageStop`")
        }
        var last = OpenAIChat.Chunk(id: self.id, created: self.created, model: self.model, choices: [])
        last.usage = try self.usage.map { OpenAIChat.Usage(try $0.tokenUsage()) }
        return [last]
    }

    private mutating func translate(_ message: AWSEventMessage) throws -> [OpenAIChat.Chunk] {
        if message.headers[":message-type"] == "exception" || message.headers[":message-type"] == "error" {
            let type = message.headers[":exception-type"] ?? message.headers[":error-code"] ?? "exception"
            let text = JSONText.decode(Wire.ErrorPayload.self, from: message.payload)?.message ?? ""
            let kind: ProviderError.Kind =
                switch type {
                case "throttlingException": .rateLimited
                case "internalServerException", "serviceUnavailableException", "modelStreamErrorException": .server
                default: .invalidResponse
                }
            throw ProviderError(kind: kind, message: "\(type) in the stream: \(text)")
        }
        let event = try BedrockTranslator.rules.answer(Wire.StreamEvent.self, from: message.payload, "a stream event")
        switch message.headers[":event-type"] {
        case "messageStart":
            self.sentRole = true
            return [self.chunk(OpenAIChat.Delta(role: "assistant", content: ""))]
        case "contentBlockStart":
            guard let use = event.start?.toolUse, let index = event.contentBlockIndex else { return [] }
            let toolIndex = self.toolIndex.count
            self.toolIndex[index] = toolIndex
            return [
                self.chunk(
                    OpenAIChat.Delta(
                        tool_calls: [.init(index: toolIndex, id: use.toolUseId, name: use.name, arguments: "")]
                    )
                )
            ]
        case "contentBlockDelta":
            guard let delta = event.delta else { return [] }
            if let text = delta.text { return [self.chunk(OpenAIChat.Delta(content: text))] }
            if let reasoning = delta.reasoningContent?.text {
                return [self.chunk(OpenAIChat.Delta(reasoning_content: reasoning))]
            }
            if let input = delta.toolUse?.input {
                guard let index = event.contentBlockIndex, let toolIndex = self.toolIndex[index] else {
                    throw ProviderError(
                        kind: .invalidResponse,
                        message: "tool input arrived for a block that is no tool use"
                    )
                }
                return [self.chunk(OpenAIChat.Delta(tool_calls: [.init(index: toolIndex, arguments: input)]))]
            }
            return []
        case "messageStop":
            self.stopReason = event.stopReason ?? "end_turn"
            return [
                self.chunk(OpenAIChat.Delta(), finishReason: BedrockTranslator.finishReason(self.stopReason) ?? "stop")
            ]
        case "metadata":
            self.usage = event.usage
            return []
        default:
            return []  // contentBlockStop, and event types added later
        }
    }

    private typealias Wire = BedrockTranslator.Wire

    private func chunk(_ delta: OpenAIChat.Delta, finishReason: String? = nil) -> OpenAIChat.Chunk {
        OpenAIChat.Chunk(
            id: self.id,
            created: self.created,
            model: self.model,
            choices: [OpenAIChat.ChunkChoice(delta: delta, finish_reason: finishReason)]
        )
    }
}

extension BedrockTranslator {
    /// The Converse API's wire format (members named as on the wire).
    public enum Wire {
        /// A Converse body.
        public struct ConverseRequest: Codable, Sendable, Equatable {
            public var messages: [Message]
            public var system: [Block]?
            public var inferenceConfig: InferenceConfig?
            public var toolConfig: ToolConfig?
            public var additionalModelRequestFields: JSONNode?
            init(messages: [Message]) { self.messages = messages }
        }

        /// A turn.
        public struct Message: Codable, Sendable, Equatable, AlternatingTurn {
            public var role: String
            public var content: [Block]
            var turnRole: String? { self.role }
            var items: [Block] {
                get { self.content }
                set { self.content = newValue }
            }
            init(turnRole: String, items: [Block]) {
                self.role = turnRole
                self.content = items
            }
        }

        /// A content block: one of its members is set.
        public struct Block: Codable, Sendable, Equatable {
            public var text: String?
            public var image: Image?
            public var toolUse: ToolUse?
            public var toolResult: ToolResult?
            public var reasoningContent: ReasoningContent?
            public var cachePoint: JSONNode?
            init() {}
        }

        /// An image's bytes.
        public struct Image: Codable, Sendable, Equatable {
            public var format: String
            public var source: ImageSource
        }

        /// Base64 image bytes.
        public struct ImageSource: Codable, Sendable, Equatable {
            public var bytes: String
        }

        /// A tool call.
        public struct ToolUse: Codable, Sendable, Equatable {
            public var toolUseId: String
            public var name: String
            public var input: JSONNode
        }

        /// A tool's result.
        public struct ToolResult: Codable, Sendable, Equatable {
            public var toolUseId: String
            public var content: [ToolResultContent]
        }

        /// Text or JSON of a tool result.
        public struct ToolResultContent: Codable, Sendable, Equatable {
            public var text: String?
            public var json: JSONNode?
            init(text: String) { self.text = text }
            init(json: JSONNode) { self.json = json }
        }

        /// Reasoning of a reasoning model.
        public struct ReasoningContent: Codable, Sendable, Equatable {
            public var reasoningText: ReasoningText?
        }

        /// Reasoning text and its signature.
        public struct ReasoningText: Codable, Sendable, Equatable {
            public var text: String?
            public var signature: String?
        }

        /// `inferenceConfig`.
        public struct InferenceConfig: Codable, Sendable, Equatable {
            public var maxTokens: Int?
            public var temperature: Double?
            public var topP: Double?
            public var stopSequences: [String]?
        }

        /// `toolConfig`.
        public struct ToolConfig: Codable, Sendable, Equatable {
            public var tools: [Tool]
            public var toolChoice: JSONNode?
        }

        /// A tool.
        public struct Tool: Codable, Sendable, Equatable {
            public var toolSpec: ToolSpec
        }

        /// A tool's name, description and schema.
        public struct ToolSpec: Codable, Sendable, Equatable {
            public var name: String
            public var description: String?
            public var inputSchema: InputSchema
        }

        /// `inputSchema`.
        public struct InputSchema: Codable, Sendable, Equatable {
            public var json: JSONNode
        }

        /// A Converse answer.
        public struct ConverseResponse: Codable, Sendable, Equatable {
            /// `output`.
            public struct Output: Codable, Sendable, Equatable {
                public var message: Message?
            }
            public var output: Output?
            public var stopReason: String?
            public var usage: Usage?
        }

        /// Token counts: `inputTokens` excludes cache reads and writes.
        public struct Usage: Codable, Sendable, Equatable {
            public var inputTokens: Int?
            public var outputTokens: Int?
            public var cacheReadInputTokens: Int?
            public var cacheWriteInputTokens: Int?

            /// The gateway's usage.
            public func tokenUsage() throws -> TokenUsage {
                try TokenUsage.excludingCache(
                    input: self.inputTokens,
                    cacheRead: self.cacheReadInputTokens,
                    cacheWrite: self.cacheWriteInputTokens,
                    output: self.outputTokens
                )
            }
        }

        /// The union of ConverseStream event payloads.
        public struct StreamEvent: Codable, Sendable, Equatable {
            /// `contentBlockStart.start`.
            public struct Start: Codable, Sendable, Equatable {
                public var toolUse: ToolUseStart?
            }
            /// The id and name of a starting tool use.
            public struct ToolUseStart: Codable, Sendable, Equatable {
                public var toolUseId: String
                public var name: String
            }
            /// `contentBlockDelta.delta`.
            public struct Delta: Codable, Sendable, Equatable {
                public var text: String?
                public var toolUse: ToolInputDelta?
                public var reasoningContent: ReasoningText?
            }
            /// A piece of a tool's JSON input.
            public struct ToolInputDelta: Codable, Sendable, Equatable {
                public var input: String?
            }
            public var role: String?
            public var contentBlockIndex: Int?
            public var start: Start?
            public var delta: Delta?
            public var stopReason: String?
            public var usage: Usage?
        }

        /// An exception's payload.
        public struct ErrorPayload: Codable, Sendable, Equatable {
            public var message: String?
        }
    }
}
