// SPDX-License-Identifier: Apache-2.0

import Foundation

/// OpenAI's Chat Completions wire format as types, for adapters that translate to and from
/// another dialect.
///
/// Pass-through routes never use these types: they forward the client's bytes. A translating
/// adapter decodes ``Request`` from ``ChatRequest/body``, writes its provider's request, and reads
/// the provider's answer back into ``Response`` or ``Chunk`` values, which the gateway sends on as
/// OpenAI bytes. Members are named as on the wire.
public enum OpenAIChat {
    /// A chat completion request.
    public struct Request: Codable, Sendable, Equatable {
        public var model: String
        public var messages: [Message]
        public var stream: Bool?
        public var stream_options: StreamOptions?
        public var max_tokens: Int?
        public var max_completion_tokens: Int?
        public var temperature: Double?
        public var top_p: Double?
        public var n: Int?
        public var stop: Stop?
        public var tools: [Tool]?
        public var tool_choice: ToolChoice?
        public var parallel_tool_calls: Bool?
        public var response_format: ResponseFormat?
        public var reasoning_effort: String?
        public var user: String?
        public var seed: Int?
        public var presence_penalty: Double?
        public var frequency_penalty: Double?
        public var logprobs: Bool?
        public var top_logprobs: Int?
        public var logit_bias: [String: Double]?
        public var metadata: [String: String]?
        /// ``ChatRequest/inboundReasoning``, set by the gateway; never on the wire.
        public var inboundReasoning = InboundReasoning()

        enum CodingKeys: String, CodingKey {
            case model, messages, stream, stream_options, max_tokens, max_completion_tokens, temperature, top_p, n
            case stop, tools, tool_choice, parallel_tool_calls, response_format, reasoning_effort, user, seed
            case presence_penalty, frequency_penalty, logprobs, top_logprobs, logit_bias, metadata
        }

        /// Creates a request.
        public init(model: String, messages: [Message]) {
            self.model = model
            self.messages = messages
        }

        /// `max_completion_tokens`, else `max_tokens`.
        public var maxOutputTokens: Int? { self.max_completion_tokens ?? self.max_tokens }

        /// Decodes a client body (already validated by ``ChatRequest``).
        public init(body: [UInt8]) throws(GatewayError) {
            if let node = JSONNode(parsing: body), let request = Request(node: node) {
                self = request
                return
            }
            guard !JSONText.nestsTooDeeply(body) else {
                throw .invalidRequest("The request body nests too deeply.", param: nil, code: "nesting_too_deep")
            }
            do {
                self = try JSONDecoderFactory.decoder.decode(Request.self, from: Data(body))
            } catch {
                throw .invalidRequest("The request body does not match the Chat Completions API: \(error)", param: nil)
            }
        }
    }

    /// `stream_options`.
    public struct StreamOptions: Codable, Sendable, Equatable {
        public var include_usage: Bool?
        /// Creates options.
        public init(include_usage: Bool? = nil) { self.include_usage = include_usage }
    }

    /// `stop`: one string or a list.
    public struct Stop: Codable, Sendable, Equatable {
        /// The stop sequences.
        public var sequences: [String]
        /// Creates a list.
        public init(_ sequences: [String]) { self.sequences = sequences }
        /// Decodes a string or a list of strings.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) {
                self.sequences = [one]
            } else {
                self.sequences = try container.decode([String].self)
            }
        }
        /// Encodes the list.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(self.sequences)
        }
    }

    /// One message of the conversation.
    public struct Message: Codable, Sendable, Equatable {
        /// `system`, `developer`, `user`, `assistant` or `tool`.
        public var role: String
        public var content: Content?
        public var name: String?
        public var tool_calls: [ToolCall]?
        public var tool_call_id: String?
        /// Reasoning text some compatible servers return (`reasoning_content`).
        public var reasoning_content: String?
        /// In answers: the reasoning as the provider's blocks, signatures included (Anthropic's
        /// `thinking` and `redacted_thinking`), so a client can hand them back unchanged.
        public var thinking_blocks: [JSONNode]?

        /// Creates a message.
        public init(role: String, content: Content? = nil, tool_calls: [ToolCall]? = nil, tool_call_id: String? = nil) {
            self.role = role
            self.content = content
            self.tool_calls = tool_calls
            self.tool_call_id = tool_call_id
        }
    }

    /// Message content: a string or a list of parts.
    public typealias Content = TextOrList<ContentPart>

    /// One part of a message's content.
    public struct ContentPart: Codable, Sendable, Equatable {
        /// `text`, `image_url`, `input_audio`, `file`, ...
        public var type: String
        public var text: String?
        public var image_url: ImageURL?
        /// Anthropic's prompt-cache marker, which clients put on parts; carried to routes that honour it.
        public var cache_control: JSONNode?

        /// A text part.
        public init(text: String) {
            self.type = "text"
            self.text = text
        }

        /// An image part.
        public init(imageURL: String, detail: String? = nil) {
            self.type = "image_url"
            self.image_url = ImageURL(url: imageURL, detail: detail)
        }
    }

    /// `image_url` of a content part: an `https:` URL or a `data:` URL.
    public struct ImageURL: Codable, Sendable, Equatable {
        public var url: String
        public var detail: String?
        /// Creates an image reference.
        public init(url: String, detail: String? = nil) {
            self.url = url
            self.detail = detail
        }

        /// The media type and base64 data of a `data:` URL.
        public var inlineData: (mediaType: String, base64: String)? {
            guard self.url.hasPrefix("data:"), let comma = self.url.firstIndex(of: ",") else { return nil }
            let header = self.url[self.url.index(self.url.startIndex, offsetBy: 5)..<comma]
            guard header.hasSuffix(";base64") else { return nil }
            return (String(header.dropLast(";base64".count)), String(self.url[self.url.index(after: comma)...]))
        }
    }

    /// A tool the model may call.
    public struct Tool: Codable, Sendable, Equatable {
        /// `function`.
        public var type: String
        public var function: FunctionDefinition
        /// A function tool.
        public init(function: FunctionDefinition) {
            self.type = "function"
            self.function = function
        }
    }

    /// A function's name, description and JSON-schema parameters.
    public struct FunctionDefinition: Codable, Sendable, Equatable {
        public var name: String
        public var description: String?
        public var parameters: JSONNode?
        public var strict: Bool?
        /// Creates a definition.
        public init(name: String, description: String? = nil, parameters: JSONNode? = nil) {
            self.name = name
            self.description = description
            self.parameters = parameters
        }
    }

    /// `tool_choice`: `none`, `auto`, `required`, or one named function.
    public enum ToolChoice: Codable, Sendable, Equatable {
        /// `none`, `auto` or `required`.
        case mode(String)
        /// `{"type": "function", "function": {"name": ...}}`.
        case function(String)

        private struct Named: Codable {
            struct Function: Codable { var name: String }
            var type: String
            var function: Function
        }

        /// Decodes either form.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let mode = try? container.decode(String.self) {
                self = .mode(mode)
            } else {
                self = .function(try container.decode(Named.self).function.name)
            }
        }

        /// Encodes either form.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .mode(let mode): try container.encode(mode)
            case .function(let name): try container.encode(Named(type: "function", function: .init(name: name)))
            }
        }
    }

    /// `response_format`.
    public struct ResponseFormat: Codable, Sendable, Equatable {
        /// `text`, `json_object` or `json_schema`.
        public var type: String
        public var json_schema: JSONSchemaFormat?
        /// Creates a format.
        public init(type: String, json_schema: JSONSchemaFormat? = nil) {
            self.type = type
            self.json_schema = json_schema
        }
    }

    /// `response_format.json_schema`.
    public struct JSONSchemaFormat: Codable, Sendable, Equatable {
        public var name: String
        public var description: String?
        public var schema: JSONNode?
        public var strict: Bool?
    }

    /// A tool call the model made.
    public struct ToolCall: Codable, Sendable, Equatable {
        public var id: String
        /// `function`.
        public var type: String
        public var function: FunctionCall
        /// Creates a call.
        public init(id: String, name: String, arguments: String) {
            self.id = id
            self.type = "function"
            self.function = FunctionCall(name: name, arguments: arguments)
        }
    }

    /// The function and its JSON-encoded arguments.
    public struct FunctionCall: Codable, Sendable, Equatable {
        public var name: String
        public var arguments: String
    }

    /// A complete (non-streaming) answer.
    public struct Response: Codable, Sendable, Equatable {
        public var id: String
        /// `chat.completion`.
        public var object: String = "chat.completion"
        public var created: Int
        public var model: String
        public var choices: [Choice]
        public var usage: Usage?

        /// Creates an answer.
        public init(id: String, created: Int, model: String, choices: [Choice], usage: Usage?) {
            self.id = id
            self.created = created
            self.model = model
            self.choices = choices
            self.usage = usage
        }
    }

    /// One choice of a complete answer.
    public struct Choice: Codable, Sendable, Equatable {
        public var index: Int
        public var message: Message
        /// `stop`, `length`, `tool_calls`, `content_filter`.
        public var finish_reason: String?
        /// Creates a choice.
        public init(index: Int, message: Message, finish_reason: String?) {
            self.index = index
            self.message = message
            self.finish_reason = finish_reason
        }
    }

    /// One streamed chunk (`chat.completion.chunk`).
    public struct Chunk: Codable, Sendable, Equatable {
        public var id: String
        /// `chat.completion.chunk`.
        public var object: String = "chat.completion.chunk"
        public var created: Int
        public var model: String
        public var choices: [ChunkChoice]
        public var usage: Usage?

        /// Creates a chunk.
        public init(id: String, created: Int, model: String, choices: [ChunkChoice], usage: Usage? = nil) {
            self.id = id
            self.created = created
            self.model = model
            self.choices = choices
            self.usage = usage
        }
    }

    /// One choice's change in a chunk.
    public struct ChunkChoice: Codable, Sendable, Equatable {
        public var index: Int
        public var delta: Delta
        public var finish_reason: String?
        /// Creates a choice delta.
        public init(index: Int = 0, delta: Delta, finish_reason: String? = nil) {
            self.index = index
            self.delta = delta
            self.finish_reason = finish_reason
        }
    }

    /// What a chunk adds to a message.
    public struct Delta: Codable, Sendable, Equatable {
        public var role: String?
        public var content: String?
        public var reasoning_content: String?
        /// Reasoning blocks' signatures and redacted blocks, as they arrive (see ``Message/thinking_blocks``).
        public var thinking_blocks: [JSONNode]?
        public var tool_calls: [ToolCallDelta]?
        /// Creates a delta.
        public init(
            role: String? = nil,
            content: String? = nil,
            reasoning_content: String? = nil,
            thinking_blocks: [JSONNode]? = nil,
            tool_calls: [ToolCallDelta]? = nil
        ) {
            self.role = role
            self.content = content
            self.reasoning_content = reasoning_content
            self.thinking_blocks = thinking_blocks
            self.tool_calls = tool_calls
        }
    }

    /// A streamed piece of a tool call: the first carries `id` and the name, later ones argument text.
    public struct ToolCallDelta: Codable, Sendable, Equatable {
        public var index: Int
        public var id: String?
        public var type: String?
        public var function: FunctionDelta
        /// Creates a piece.
        public init(index: Int, id: String? = nil, name: String? = nil, arguments: String? = nil) {
            self.index = index
            self.id = id
            self.type = id == nil ? nil : "function"
            self.function = FunctionDelta(name: name, arguments: arguments)
        }
    }

    /// A streamed piece of a function call.
    public struct FunctionDelta: Codable, Sendable, Equatable {
        public var name: String?
        public var arguments: String?
    }

    /// Token counts.
    public struct Usage: Codable, Sendable, Equatable {
        public var prompt_tokens: Int
        public var completion_tokens: Int
        public var total_tokens: Int
        public var prompt_tokens_details: PromptDetails?
        public var completion_tokens_details: CompletionDetails?

        /// Usage from gateway token counts; `prompt_tokens` includes cached and cache-written tokens.
        public init(_ usage: TokenUsage) {
            self.prompt_tokens = usage.inputTokens
            self.completion_tokens = usage.outputTokens
            self.total_tokens = usage.inputTokens + usage.outputTokens
            if usage.cachedInputTokens > 0 || usage.cacheWriteTokens > 0 {
                self.prompt_tokens_details = PromptDetails(
                    cached_tokens: usage.cachedInputTokens,
                    cache_creation_tokens: usage.cacheWriteTokens > 0 ? usage.cacheWriteTokens : nil
                )
            }
            if usage.reasoningTokens > 0 {
                self.completion_tokens_details = CompletionDetails(reasoning_tokens: usage.reasoningTokens)
            }
        }
    }

    /// `usage.prompt_tokens_details`.
    public struct PromptDetails: Codable, Sendable, Equatable {
        public var cached_tokens: Int?
        /// Tokens written to the provider's prompt cache (Anthropic and Bedrock charge for them).
        public var cache_creation_tokens: Int?
    }

    /// `usage.completion_tokens_details`.
    public struct CompletionDetails: Codable, Sendable, Equatable {
        public var reasoning_tokens: Int?
    }
}

extension TextOrList where Element == OpenAIChat.ContentPart {
    /// The text of every text part, joined.
    public var text: String {
        switch self {
        case .text(let text): text
        case .list(let parts): parts.compactMap(\.text).joined()
        }
    }

    /// The parts, a plain string being one text part.
    public var parts: [OpenAIChat.ContentPart] {
        switch self {
        case .text(let text): [OpenAIChat.ContentPart(text: text)]
        case .list(let parts): parts
        }
    }
}

// MARK: - Reading requests without Decodable

// Translated routes read every request; reading it from the parsed tree costs a fraction of
// JSONDecoder's Decodable path (docs/benchmarks.md). Any member of an unexpected type makes these
// readers return nil, and the caller falls back to JSONDecoder, which words the error.
extension OpenAIChat.Request {
    init?(node: JSONNode) {
        guard case .object(let members) = node, let model = members["model"]?.stringValue,
            let messages = node.list("messages", OpenAIChat.Message.init(node:))
        else { return nil }
        self.init(model: model, messages: messages)
        guard node.read("stream", \.boolValue, into: &self.stream),
            node.read("max_tokens", \.intValue, into: &self.max_tokens),
            node.read("max_completion_tokens", \.intValue, into: &self.max_completion_tokens),
            node.read("temperature", \.doubleValue, into: &self.temperature),
            node.read("top_p", \.doubleValue, into: &self.top_p),
            node.read("n", \.intValue, into: &self.n),
            node.read("parallel_tool_calls", \.boolValue, into: &self.parallel_tool_calls),
            node.read("reasoning_effort", \.stringValue, into: &self.reasoning_effort),
            node.read("user", \.stringValue, into: &self.user),
            node.read("seed", \.intValue, into: &self.seed),
            node.read("presence_penalty", \.doubleValue, into: &self.presence_penalty),
            node.read("frequency_penalty", \.doubleValue, into: &self.frequency_penalty),
            node.read("logprobs", \.boolValue, into: &self.logprobs),
            node.read("top_logprobs", \.intValue, into: &self.top_logprobs)
        else { return nil }
        // The rarer members: any of them sends the request down JSONDecoder's path.
        for key in ["stream_options", "stop", "tools", "tool_choice", "response_format", "logit_bias", "metadata"]
        where members[key] != nil && members[key] != .null {
            return nil
        }
    }
}

extension OpenAIChat.Message {
    init?(node: JSONNode) {
        guard let role = node["role"]?.stringValue else { return nil }
        self.init(role: role)
        switch node["content"] {
        case nil, .null?: break
        case .string(let text)?: self.content = .text(text)
        case .array(let items)?:
            var parts: [OpenAIChat.ContentPart] = []
            for item in items {
                guard let type = item["type"]?.stringValue else { return nil }
                var part = OpenAIChat.ContentPart(text: "")
                part.type = type
                part.text = item["text"]?.stringValue
                if let image = item["image_url"] {
                    guard let url = image["url"]?.stringValue else { return nil }
                    part.image_url = OpenAIChat.ImageURL(url: url, detail: image["detail"]?.stringValue)
                }
                part.cache_control = item["cache_control"]
                parts.append(part)
            }
            self.content = .list(parts)
        default: return nil
        }
        guard node.read("name", \.stringValue, into: &self.name),
            node.read("tool_call_id", \.stringValue, into: &self.tool_call_id),
            node.read("reasoning_content", \.stringValue, into: &self.reasoning_content)
        else { return nil }
        if let calls = node["tool_calls"], calls != .null {
            guard let read = node.list("tool_calls", OpenAIChat.ToolCall.init(node:)) else { return nil }
            self.tool_calls = read
        }
        if let blocks = node["thinking_blocks"], blocks != .null {
            guard let read = blocks.arrayValue else { return nil }
            self.thinking_blocks = read
        }
    }
}

extension OpenAIChat.ToolCall {
    init?(node: JSONNode) {
        guard let id = node["id"]?.stringValue, let function = node["function"],
            let name = function["name"]?.stringValue, let arguments = function["arguments"]?.stringValue
        else { return nil }
        self.init(id: id, name: name, arguments: arguments)
    }
}

extension JSONNode {
    /// Reads the optional member `key` into `target`: `false` when it is present but `convert` refuses it.
    fileprivate func read<T>(_ key: String, _ convert: (JSONNode) -> T?, into target: inout T?) -> Bool {
        guard let value = self[key], value != .null else { return true }
        guard let converted = convert(value) else { return false }
        target = converted
        return true
    }

    /// The array member `key` with every element converted; `nil` when it is absent or any element is refused.
    fileprivate func list<T>(_ key: String, _ convert: (JSONNode) -> T?) -> [T]? {
        guard let items = self[key]?.arrayValue else { return nil }
        var result: [T] = []
        result.reserveCapacity(items.count)
        for item in items {
            guard let converted = convert(item) else { return nil }
            result.append(converted)
        }
        return result
    }

    /// The flag, if this is one.
    fileprivate var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The number, if this is one.
    fileprivate var doubleValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }
}
