// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import SwitchyardCore

/// The `gemini` dialect: Google's Gemini API (generateContent, streamGenerateContent, batchEmbedContents).
///
/// - Configuration: the common keys; `base_url` includes `/v1beta` (default
///   `https://generativelanguage.googleapis.com/v1beta`); `api_key` is sent as `x-goog-api-key`.
/// - Embedded default: `gemini` when `GEMINI_API_KEY` (or `GOOGLE_API_KEY`) is set.
public struct GeminiDialect: ProviderDialect {
    /// `gemini`.
    public let name = "gemini"
    /// `gcp.gemini`, as OpenTelemetry's GenAI conventions name it.
    public let genAIProviderName = "gcp.gemini"

    /// Creates the dialect.
    public init() {}

    /// `gemini` from `GEMINI_API_KEY`, else `GOOGLE_API_KEY`, as Google's SDKs read them.
    public func environmentDefaults(
        _ environment: [String: String]
    ) -> [(
        name: String, configuration: ProviderConfiguration
    )] {
        guard
            let key = [environment["GEMINI_API_KEY"], environment["GOOGLE_API_KEY"]].compactMap({ $0 })
                .first(where: { !$0.isEmpty })
        else { return [] }
        return [("gemini", ProviderConfiguration(type: self.name, apiKey: key))]
    }

    /// A translating provider for the Gemini API.
    public func makeProvider(
        name: String,
        configuration: ProviderConfiguration,
        services: ProviderServices
    ) throws -> any Provider {
        let root = configuration.baseURL ?? "https://generativelanguage.googleapis.com/v1beta"
        return TranslatingProvider(
            name: name,
            translator: GeminiTranslator(
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

/// Translates OpenAI chat and embeddings requests to the Gemini API and its answers back.
public struct GeminiTranslator: ChatTranslator {
    /// The API root including `/v1beta`, the key (`x-goog-api-key`), extra headers and proxy.
    public var access: UpstreamAccess

    /// Thinking budgets for `reasoning_effort` (`none` turns thinking off where the model allows it).
    public static let thinkingBudgets = ["none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576]
    /// The JSON-schema keys Gemini's `responseSchema` (an OpenAPI subset) accepts; others are dropped
    /// from the schema, which only narrows what the model is told, never what is checked.
    static let schemaKeys: Set<String> = [
        "type", "format", "description", "nullable", "enum", "maxItems", "minItems", "properties", "required",
        "items", "anyOf", "minimum", "maximum", "minLength", "maxLength", "pattern", "title", "propertyOrdering",
        "minProperties", "maxProperties", "default",
    ]

    /// Creates a translator for the API root including `/v1beta`; the key goes in `x-goog-api-key`.
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
            credentials: { [("x-goog-api-key", $0)] },
            extraHeaders: extraHeaders,
            proxy: proxy
        )
    }

    // MARK: Requests

    /// `generateContent`, or `streamGenerateContent?alt=sse` for a stream.
    public func makeChatRequest(_ request: OpenAIChat.Request, route: Route) throws -> UpstreamHTTPRequest {
        let body = try Self.translate(request)
        let method = request.stream == true ? ":streamGenerateContent?alt=sse" : ":generateContent"
        return self.access.post(
            "/models/\(Self.modelPath(route.upstreamModel))\(method)",
            body: try TranslatedJSON.encode(body)
        )
    }

    /// `batchEmbedContents`.
    public func makeEmbeddingsRequest(
        _ request: EmbeddingsRequest,
        upstreamModel: String
    ) throws -> UpstreamHTTPRequest? {
        let model = "models/" + Self.modelPath(upstreamModel)
        let batch = Wire.BatchEmbedRequest(
            requests: request.inputs.map {
                Wire.EmbedRequest(
                    model: model,
                    content: Wire.Content(role: nil, parts: [Wire.Part(text: $0)]),
                    outputDimensionality: request.dimensions
                )
            }
        )
        return self.access.post("/\(model):batchEmbedContents", body: try TranslatedJSON.encode(batch))
    }

    /// The model id as a URL path segment (`gemini-2.5-flash`; a leading `models/` is dropped).
    static func modelPath(_ model: String) -> String {
        let id = model.hasPrefix("models/") ? String(model.dropFirst("models/".count)) : model
        return id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/", "?", "#"])) ?? id
    }

    /// The generateContent body for an OpenAI request; throws a 400 ``ProviderError`` naming what
    /// Gemini cannot express.
    public static func translate(_ request: OpenAIChat.Request) throws -> Wire.GenerateRequest {
        let rules = Self.rules
        let refuse = rules.refusal
        try rules.refuseUnsupported(request, ["logprobs", "top_logprobs", "logit_bias", "parallel_tool_calls"])
        var toolNames: [String: String] = [:]  // tool call id → function name, for the results
        let (system, contents): ([Wire.Part], [Wire.Content]) = try rules.conversation(
            request,
            assistantRole: "model",
            content: { try Self.parts($0, at: $1, rules: rules) },
            toolCall: { call, arguments in
                toolNames[call.id] = call.function.name
                var part = Wire.Part()
                part.functionCall = Wire.FunctionCall(name: call.function.name, args: arguments)
                part.thoughtSignature = ThoughtSignature.read(fromToolCallID: call.id)
                return part
            },
            toolResult: { message, index in
                let id = message.tool_call_id ?? ""
                guard let name = toolNames[id] ?? message.name else {
                    throw ProviderError(
                        kind: .invalidRequest,
                        status: 400,
                        message: "`messages[\(index)].tool_call_id` `\(id)` answers no earlier tool call"
                    )
                }
                let text = message.content?.text ?? ""
                // Gemini wants an object: a JSON object result goes as it is, anything else under `result`.
                let response: JSONNode =
                    if let parsed = JSONNode(parsing: Array(text.utf8)), case .object = parsed { parsed } else {
                        .object(["result": .string(text)])
                    }
                var part = Wire.Part()
                part.functionResponse = Wire.FunctionResponse(name: name, response: response)
                return part
            }
        )

        var body = Wire.GenerateRequest(contents: contents)
        if !system.isEmpty { body.systemInstruction = Wire.Content(role: nil, parts: system) }
        var config = Wire.GenerationConfig()
        config.temperature = request.temperature
        config.topP = request.top_p
        config.maxOutputTokens = request.maxOutputTokens
        config.stopSequences = request.stop?.sequences
        config.candidateCount = request.n
        config.presencePenalty = request.presence_penalty
        config.frequencyPenalty = request.frequency_penalty
        config.seed = request.seed
        switch request.response_format?.type {
        case "json_object":
            config.responseMimeType = "application/json"
        case "json_schema":
            config.responseMimeType = "application/json"
            config.responseSchema = request.response_format?.json_schema?.schema.map(Self.openAPISchema)
        default: break
        }
        if let effort = request.reasoning_effort {
            guard let level = Self.thinkingBudgets[effort] else {
                throw refuse("reasoning_effort", "`\(effort)` is not one of none, minimal, low, medium, high")
            }
            let budget = level == 0 ? 0 : request.inboundReasoning.budgetTokens ?? level
            config.thinkingConfig = Wire.ThinkingConfig(thinkingBudget: budget, includeThoughts: budget > 0)
        }
        if config != Wire.GenerationConfig() { body.generationConfig = config }
        if let tools = request.tools, !tools.isEmpty {
            body.tools = [
                Wire.Tool(
                    functionDeclarations: tools.map {
                        Wire.FunctionDeclaration(
                            name: $0.function.name,
                            description: $0.function.description,
                            parameters: $0.function.parameters.map(Self.openAPISchema)
                        )
                    }
                )
            ]
        }
        switch request.tool_choice {
        case .mode("none"): body.toolConfig = .init(functionCallingConfig: .init(mode: "NONE"))
        case .mode("required"): body.toolConfig = .init(functionCallingConfig: .init(mode: "ANY"))
        case .mode("auto"): body.toolConfig = .init(functionCallingConfig: .init(mode: "AUTO"))
        case .function(let name):
            body.toolConfig = .init(functionCallingConfig: .init(mode: "ANY", allowedFunctionNames: [name]))
        case .mode(let other): throw refuse("tool_choice", "`\(other)` is not supported")
        case nil: break
        }
        return body
    }

    /// Gemini parts for an OpenAI message's content.
    static func parts(_ content: OpenAIChat.Content?, at index: Int, rules: TranslationRules) throws -> [Wire.Part] {
        try rules.parts(content, message: index) { part, image in
            switch (part.type, image) {
            case ("text", _):
                return Wire.Part(text: part.text ?? "")
            case ("image_url", let image?):
                var wire = Wire.Part()
                if let inline = image.inlineData {
                    wire.inlineData = Wire.Blob(mimeType: inline.mediaType, data: inline.base64)
                } else {
                    wire.fileData = Wire.FileData(mimeType: Self.mimeType(ofImageAt: image.url), fileUri: image.url)
                }
                return wire
            default:
                return nil
            }
        }
    }

    static func mimeType(ofImageAt url: String) -> String {
        let path = url.split(separator: "?").first.map(String.init)?.lowercased() ?? ""
        if path.hasSuffix(".png") { return "image/png" }
        if path.hasSuffix(".webp") { return "image/webp" }
        if path.hasSuffix(".gif") { return "image/gif" }
        return "image/jpeg"
    }

    /// A JSON schema narrowed to the OpenAPI subset Gemini accepts.
    static func openAPISchema(_ schema: JSONNode) -> JSONNode {
        switch schema {
        case .object(let members):
            var kept: [String: JSONNode] = [:]
            for (key, value) in members where Self.schemaKeys.contains(key) {
                switch key {
                case "properties":
                    if case .object(let properties) = value {
                        kept[key] = .object(properties.mapValues(Self.openAPISchema))
                    }
                case "items": kept[key] = Self.openAPISchema(value)
                case "anyOf":
                    if case .array(let options) = value { kept[key] = .array(options.map(Self.openAPISchema)) }
                default: kept[key] = value
                }
            }
            return .object(kept)
        default:
            return schema
        }
    }

    // MARK: Answers

    /// A generateContent answer as an OpenAI completion.
    public func readChatResponse(_ body: [UInt8], upstreamModel: String) throws -> OpenAIChat.Response {
        let response = try Self.decode(body)
        var choices: [OpenAIChat.Choice] = []
        for (position, candidate) in (response.candidates ?? []).enumerated() {
            var text = ""
            var reasoning = ""
            var calls: [OpenAIChat.ToolCall] = []
            for part in candidate.content?.parts ?? [] {
                if let call = part.functionCall {
                    calls.append(
                        OpenAIChat.ToolCall(
                            id: ThoughtSignature.toolCallID(call.id ?? "call_\(calls.count)", part.thoughtSignature),
                            name: call.name,
                            arguments: (call.args ?? .object([:])).text
                        )
                    )
                } else if part.thought == true {
                    reasoning += part.text ?? ""
                } else {
                    text += part.text ?? ""
                }
            }
            var message = OpenAIChat.Message(
                role: "assistant",
                content: calls.isEmpty || !text.isEmpty ? .text(text) : nil,
                tool_calls: calls.isEmpty ? nil : calls
            )
            if !reasoning.isEmpty { message.reasoning_content = reasoning }
            choices.append(
                OpenAIChat.Choice(
                    index: candidate.index ?? position,
                    message: message,
                    finish_reason: Self.finishReason(candidate.finishReason, calledTools: !calls.isEmpty)
                )
            )
        }
        if choices.isEmpty {
            // The prompt itself was blocked: no candidates, a block reason.
            guard response.promptFeedback?.blockReason != nil else {
                throw ProviderError(kind: .invalidResponse, message: "the Gemini answer has no candidates")
            }
            choices = [
                OpenAIChat.Choice(
                    index: 0,
                    message: OpenAIChat.Message(role: "assistant", content: .text("")),
                    finish_reason: "content_filter"
                )
            ]
        }
        return OpenAIChat.Response(
            id: response.responseId.map { "chatcmpl-" + $0 } ?? "chatcmpl-gemini",
            created: Int(Date().timeIntervalSince1970),
            model: response.modelVersion ?? upstreamModel,
            choices: choices,
            usage: try response.usageMetadata.map { OpenAIChat.Usage(try $0.tokenUsage()) }
        )
    }

    /// OpenAI's `finish_reason` for Gemini's `finishReason`.
    static func finishReason(_ reason: String?, calledTools: Bool) -> String? {
        switch reason {
        case nil: nil
        case "STOP": calledTools ? "tool_calls" : "stop"
        case "MAX_TOKENS": "length"
        case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY": "content_filter"
        case "MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL": "stop"
        default: "stop"
        }
    }

    /// A reader for a streamed answer (`alt=sse`: one GenerateContentResponse per event).
    public func makeStreamReader(upstreamModel: String) -> GeminiStreamReader {
        GeminiStreamReader(model: upstreamModel, created: Int(Date().timeIntervalSince1970))
    }

    /// Gemini's error body (`{"error": {"code", "message", "status"}}`) as a ``ProviderError``.
    public func parseError(status: Int, headers: [(String, String)], body: [UInt8]) -> ProviderError {
        struct Envelope: Decodable {
            struct Detail: Decodable {
                var message: String?
                var status: String?
            }
            var error: Detail?
        }
        let message =
            JSONText.decode(Envelope.self, from: body)?.error.map {
                [$0.status, $0.message].compactMap { $0 }.joined(separator: ": ")
            }
            ?? String(decoding: body.prefix(300), as: UTF8.self)
        return ProviderError.upstream(status: status, headers: headers, message: message)
    }

    /// A batchEmbedContents answer as OpenAI's embeddings list.
    public func readEmbeddingsResponse(
        _ body: [UInt8],
        request: EmbeddingsRequest,
        upstreamModel: String
    ) throws -> [UInt8] {
        struct Answer: Decodable {
            struct Embedding: Decodable { var values: [Double] }
            var embeddings: [Embedding]
        }
        guard let answer = JSONText.decode(Answer.self, from: body), answer.embeddings.count == request.inputs.count
        else {
            throw ProviderError(kind: .invalidResponse, message: "the Gemini answer is not one embedding per input")
        }
        return EmbeddingsAnswer.json(
            vectors: answer.embeddings.map(\.values),
            model: upstreamModel,
            encodingFormat: request.encodingFormat,
            // Gemini's embeddings answer reports no usage: estimated as the gateway does elsewhere.
            promptTokens: max(1, (request.characterCount + 3) / 4)
        )
    }

    /// How this dialect refuses parameters and reads answers.
    static let rules = TranslationRules(provider: "Gemini")

    static func decode(_ body: some Collection<UInt8>) throws -> Wire.GenerateResponse {
        try Self.rules.answer(Wire.GenerateResponse.self, from: body, "the answer")
    }
}

/// Reads Gemini's streamed answers into OpenAI chunks.
///
/// Each event is a whole GenerateContentResponse with the new parts; the last one carries the
/// `finishReason` and the final `usageMetadata`. Gemini has no end marker, so a stream that ends
/// before any candidate finished is treated as cut short.
public struct GeminiStreamReader: ChatStreamReader {
    private var decoder = SSEDecoder()
    private var model: String
    private var id = "chatcmpl-gemini"
    private let created: Int
    private var started: Set<Int> = []
    private var finished: Set<Int> = []
    private var toolCalls: [Int: Int] = [:]
    private var usage: GeminiTranslator.Wire.UsageMetadata?

    /// Creates a reader; `model` stands until an event names the model version.
    public init(model: String, created: Int) {
        self.model = model
        self.created = created
    }

    /// The chunks the events in `bytes` make.
    public mutating func read(_ bytes: ByteBuffer) throws -> [OpenAIChat.Chunk] {
        let events = try self.decoder.upstreamEvents(in: bytes)
        var chunks: [OpenAIChat.Chunk] = []
        for event in events {
            let response = try GeminiTranslator.decode(event.data)
            if let version = response.modelVersion { self.model = version }
            if let responseID = response.responseId { self.id = "chatcmpl-" + responseID }
            if let usage = response.usageMetadata { self.usage = usage }
            if response.candidates == nil, response.promptFeedback?.blockReason != nil {
                self.finished.insert(0)
                chunks.append(self.chunk(0, OpenAIChat.Delta(role: "assistant", content: ""), finish: "content_filter"))
            }
            for (position, candidate) in (response.candidates ?? []).enumerated() {
                let index = candidate.index ?? position
                var delta = OpenAIChat.Delta()
                if self.started.insert(index).inserted { delta.role = "assistant" }
                for part in candidate.content?.parts ?? [] {
                    if let call = part.functionCall {
                        let callIndex = self.toolCalls[index, default: 0]
                        self.toolCalls[index] = callIndex + 1
                        delta.tool_calls =
                            (delta.tool_calls ?? []) + [
                                OpenAIChat.ToolCallDelta(
                                    index: callIndex,
                                    id: ThoughtSignature.toolCallID(
                                        call.id ?? "call_\(callIndex)",
                                        part.thoughtSignature
                                    ),
                                    name: call.name,
                                    arguments: (call.args ?? .object([:])).text
                                )
                            ]
                    } else if part.thought == true {
                        delta.reasoning_content = (delta.reasoning_content ?? "") + (part.text ?? "")
                    } else if let text = part.text {
                        delta.content = (delta.content ?? "") + text
                    }
                }
                let finish = GeminiTranslator.finishReason(
                    candidate.finishReason,
                    calledTools: self.toolCalls[index, default: 0] > 0
                )
                if finish != nil { self.finished.insert(index) }
                if delta != OpenAIChat.Delta() || finish != nil {
                    chunks.append(self.chunk(index, delta, finish: finish))
                }
            }
        }
        return chunks
    }

    /// The usage chunk; throws when no candidate finished.
    public mutating func finish() throws -> [OpenAIChat.Chunk] {
        guard !self.finished.isEmpty else {
            throw ProviderError(kind: .connection, message: "the Gemini stream ended before a finishReason")
        }
        var last = OpenAIChat.Chunk(id: self.id, created: self.created, model: self.model, choices: [])
        last.usage = try self.usage.map { OpenAIChat.Usage(try $0.tokenUsage()) }
        return [last]
    }

    private func chunk(_ index: Int, _ delta: OpenAIChat.Delta, finish: String?) -> OpenAIChat.Chunk {
        OpenAIChat.Chunk(
            id: self.id,
            created: self.created,
            model: self.model,
            choices: [OpenAIChat.ChunkChoice(index: index, delta: delta, finish_reason: finish)]
        )
    }
}

extension GeminiTranslator {
    /// The Gemini API's wire format (members named as on the wire, camelCase).
    public enum Wire {
        /// A generateContent body.
        public struct GenerateRequest: Codable, Sendable, Equatable {
            public var contents: [Content]
            public var systemInstruction: Content?
            public var tools: [Tool]?
            public var toolConfig: ToolConfig?
            public var generationConfig: GenerationConfig?
        }

        /// A turn: `user` or `model`, with parts.
        public struct Content: Codable, Sendable, Equatable, AlternatingTurn {
            public var role: String?
            public var parts: [Part]

            init(role: String?, parts: [Part]) {
                self.role = role
                self.parts = parts
            }
            var turnRole: String? { self.role }
            var items: [Part] {
                get { self.parts }
                set { self.parts = newValue }
            }
            init(turnRole: String, items: [Part]) { self.init(role: turnRole, parts: items) }
        }

        /// One part: text (possibly a thought), inline data, a file, a function call or response.
        public struct Part: Codable, Sendable, Equatable {
            public var text: String?
            public var thought: Bool?
            public var inlineData: Blob?
            public var fileData: FileData?
            public var functionCall: FunctionCall?
            /// The signature of the thinking behind a part (Gemini 2.5 and later); Gemini 3 refuses a
            /// function call sent back without it.
            public var thoughtSignature: String?
            public var functionResponse: FunctionResponse?

            init(text: String? = nil) { self.text = text }
        }

        /// Inline bytes, base64.
        public struct Blob: Codable, Sendable, Equatable {
            public var mimeType: String
            public var data: String
        }

        /// A file by URI.
        public struct FileData: Codable, Sendable, Equatable {
            public var mimeType: String?
            public var fileUri: String
        }

        /// A call the model makes.
        public struct FunctionCall: Codable, Sendable, Equatable {
            public var id: String?
            public var name: String
            public var args: JSONNode?
            init(name: String, args: JSONNode?) {
                self.name = name
                self.args = args
            }
        }

        /// A tool's result, sent back.
        public struct FunctionResponse: Codable, Sendable, Equatable {
            public var name: String
            public var response: JSONNode
        }

        /// Function declarations.
        public struct Tool: Codable, Sendable, Equatable {
            public var functionDeclarations: [FunctionDeclaration]
        }

        /// One function.
        public struct FunctionDeclaration: Codable, Sendable, Equatable {
            public var name: String
            public var description: String?
            public var parameters: JSONNode?
        }

        /// `toolConfig`.
        public struct ToolConfig: Codable, Sendable, Equatable {
            public var functionCallingConfig: FunctionCallingConfig
        }

        /// `AUTO`, `ANY` (optionally limited to names) or `NONE`.
        public struct FunctionCallingConfig: Codable, Sendable, Equatable {
            public var mode: String
            public var allowedFunctionNames: [String]?
            init(mode: String, allowedFunctionNames: [String]? = nil) {
                self.mode = mode
                self.allowedFunctionNames = allowedFunctionNames
            }
        }

        /// `generationConfig`.
        public struct GenerationConfig: Codable, Sendable, Equatable {
            public var temperature: Double?
            public var topP: Double?
            public var maxOutputTokens: Int?
            public var stopSequences: [String]?
            public var candidateCount: Int?
            public var presencePenalty: Double?
            public var frequencyPenalty: Double?
            public var seed: Int?
            public var responseMimeType: String?
            public var responseSchema: JSONNode?
            public var thinkingConfig: ThinkingConfig?
        }

        /// `thinkingConfig`.
        public struct ThinkingConfig: Codable, Sendable, Equatable {
            public var thinkingBudget: Int
            public var includeThoughts: Bool
        }

        /// A generateContent answer, or one streamed piece of it.
        public struct GenerateResponse: Codable, Sendable, Equatable {
            public var candidates: [Candidate]?
            public var promptFeedback: PromptFeedback?
            public var usageMetadata: UsageMetadata?
            public var modelVersion: String?
            public var responseId: String?
        }

        /// One candidate answer.
        public struct Candidate: Codable, Sendable, Equatable {
            public var content: Content?
            public var finishReason: String?
            public var index: Int?
        }

        /// Why the prompt was blocked, if it was.
        public struct PromptFeedback: Codable, Sendable, Equatable {
            public var blockReason: String?
        }

        /// Token counts: `candidatesTokenCount` excludes thinking, `promptTokenCount` includes the cache.
        public struct UsageMetadata: Codable, Sendable, Equatable {
            public var promptTokenCount: Int?
            public var candidatesTokenCount: Int?
            public var cachedContentTokenCount: Int?
            public var thoughtsTokenCount: Int?
            public var totalTokenCount: Int?

            /// The gateway's usage: output tokens include thinking, which is also counted as reasoning.
            public func tokenUsage() throws -> TokenUsage {
                let counts = try TokenUsage.upstreamCounts(
                    self.promptTokenCount,
                    self.cachedContentTokenCount,
                    self.candidatesTokenCount,
                    self.thoughtsTokenCount
                )
                return TokenUsage(
                    inputTokens: counts[0],
                    cachedInputTokens: min(counts[1], counts[0]),
                    outputTokens: counts[2] + counts[3],
                    reasoningTokens: counts[3]
                )
            }
        }

        /// A batchEmbedContents body.
        public struct BatchEmbedRequest: Codable, Sendable, Equatable {
            public var requests: [EmbedRequest]
        }

        /// One text to embed.
        public struct EmbedRequest: Codable, Sendable, Equatable {
            public var model: String
            public var content: Content
            public var outputDimensionality: Int?
        }
    }
}

/// Carries Gemini's thought signatures through OpenAI's format inside the tool call id, which every
/// client hands back with the call: `call_0` with signature `AbC+/=` becomes `call_0__ts_AbC-_`
/// (base64url, letters, digits, `_` and `-` only, so the id stays valid for Anthropic clients too).
enum ThoughtSignature {
    static let marker = "__ts_"

    /// The id to give the client for a call with `signature`.
    static func toolCallID(_ id: String, _ signature: String?) -> String {
        guard let signature, !signature.isEmpty else { return id }
        let url = signature.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return id + Self.marker + url
    }

    /// The signature inside an id made by ``toolCallID(_:_:)``, in Gemini's base64 form.
    static func read(fromToolCallID id: String) -> String? {
        guard let range = id.range(of: Self.marker) else { return nil }
        var signature = id[range.upperBound...].replacingOccurrences(of: "-", with: "+")
            .replacingOccurrences(of: "_", with: "/")
        guard !signature.isEmpty else { return nil }
        while signature.count % 4 != 0 { signature += "=" }
        return signature
    }
}
