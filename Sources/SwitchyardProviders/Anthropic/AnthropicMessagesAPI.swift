// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore

/// Anthropic's Messages API wire format as types: what the `anthropic` dialect sends and reads,
/// and what `POST /v1/messages` accepts and answers. Members are named as on the wire.
public enum AnthropicMessages {
    /// A `POST /v1/messages` body.
    public struct Request: Codable, Sendable, Equatable {
        public var model: String
        public var max_tokens: Int?
        public var messages: [Message]
        public var system: SystemPrompt?
        public var stop_sequences: [String]?
        public var temperature: Double?
        public var top_p: Double?
        public var top_k: Int?
        public var stream: Bool?
        public var tools: [Tool]?
        public var tool_choice: ToolChoice?
        public var metadata: Metadata?
        public var thinking: Thinking?

        /// Creates a request.
        public init(model: String, max_tokens: Int?, messages: [Message]) {
            self.model = model
            self.max_tokens = max_tokens
            self.messages = messages
        }
    }

    /// `system`: a string or a list of text blocks (which may carry `cache_control`).
    public typealias SystemPrompt = TextOrList<ContentBlock>

    /// One turn: `user` or `assistant`, with a string or a list of blocks.
    public struct Message: Codable, Sendable, Equatable, AlternatingTurn {
        public var role: String
        public var content: [ContentBlock]

        /// Creates a message.
        public init(role: String, content: [ContentBlock]) {
            self.role = role
            self.content = content
        }

        enum CodingKeys: String, CodingKey { case role, content }

        var turnRole: String? { self.role }
        var items: [ContentBlock] {
            get { self.content }
            set { self.content = newValue }
        }
        init(turnRole: String, items: [ContentBlock]) { self.init(role: turnRole, content: items) }

        /// Decodes `content` as a string or a list of blocks.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.role = try c.decode(String.self, forKey: .role)
            if let text = try? c.decode(String.self, forKey: .content) {
                self.content = [.text(text)]
            } else {
                self.content = try c.decode([ContentBlock].self, forKey: .content)
            }
        }
    }

    /// A content block. Kinds the gateway does not read keep their JSON in ``other``.
    public struct ContentBlock: Codable, Sendable, Equatable {
        /// `text`, `image`, `tool_use`, `tool_result`, `thinking`, `redacted_thinking`, ...
        public var type: String
        public var text: String?
        public var source: ImageSource?
        public var id: String?
        public var name: String?
        public var input: JSONNode?
        public var tool_use_id: String?
        /// A tool result's content: a string or blocks.
        public var content: ToolResultContent?
        public var is_error: Bool?
        public var thinking: String?
        public var signature: String?
        public var data: String?
        public var cache_control: JSONNode?

        /// A text block.
        public static func text(_ text: String, cacheControl: JSONNode? = nil) -> ContentBlock {
            var block = ContentBlock(type: "text")
            block.text = text
            block.cache_control = cacheControl
            return block
        }

        /// Creates an empty block of `type`.
        public init(type: String) { self.type = type }

        /// A `tool_use` block.
        public static func toolUse(id: String, name: String, input: JSONNode) -> ContentBlock {
            var block = ContentBlock(type: "tool_use")
            block.id = id
            block.name = name
            block.input = input
            return block
        }

        /// A `thinking` block with its signature, or a `redacted_thinking` block, from its JSON;
        /// `nil` for anything else (a thinking block without a signature cannot be sent back).
        public init?(reasoning node: JSONNode) {
            guard let block = ContentBlock(answer: node), block.isReturnableReasoning else { return nil }
            self = block
        }

        /// Whether this is reasoning Anthropic takes back: a signed `thinking` block or a `redacted_thinking` one.
        public var isReturnableReasoning: Bool {
            switch self.type {
            case "thinking": self.signature?.isEmpty == false
            case "redacted_thinking": self.data != nil
            default: false
            }
        }

        /// The block as JSON.
        public var jsonNode: JSONNode? {
            (try? JSONDecoderFactory.encoder.encode(self)).flatMap { JSONNode(parsing: Array($0)) }
        }

        /// The OpenAI tool call of a `tool_use` block.
        public var openAIToolCall: OpenAIChat.ToolCall {
            OpenAIChat.ToolCall(id: self.id ?? "", name: self.name ?? "", arguments: (self.input ?? .object([:])).text)
        }
    }

    /// A tool result's content: a string or text and image blocks.
    public typealias ToolResultContent = TextOrList<ContentBlock>

    /// An image: base64 data with its media type, or a URL.
    public struct ImageSource: Codable, Sendable, Equatable {
        /// `base64` or `url`.
        public var type: String
        public var media_type: String?
        public var data: String?
        public var url: String?
    }

    /// A tool definition; `type` is set only for Anthropic's server tools (`web_search_20250305`, ...).
    public struct Tool: Codable, Sendable, Equatable {
        public var type: String?
        public var name: String
        public var description: String?
        public var input_schema: JSONNode?
        public var cache_control: JSONNode?
    }

    /// `tool_choice`: `auto`, `any`, `none`, or `tool` with a name.
    public struct ToolChoice: Codable, Sendable, Equatable {
        public var type: String
        public var name: String?
        public var disable_parallel_tool_use: Bool?
    }

    /// `metadata`.
    public struct Metadata: Codable, Sendable, Equatable {
        public var user_id: String?
    }

    /// `thinking`: extended thinking with a token budget.
    public struct Thinking: Codable, Sendable, Equatable {
        /// `enabled` or `disabled`.
        public var type: String
        public var budget_tokens: Int?
        /// Creates a setting.
        public init(type: String, budget_tokens: Int? = nil) {
            self.type = type
            self.budget_tokens = budget_tokens
        }
    }

    /// A complete answer.
    public struct Response: Codable, Sendable, Equatable {
        public var id: String
        /// `message`.
        public var type: String = "message"
        public var role: String = "assistant"
        public var model: String
        public var content: [ContentBlock]
        public var stop_reason: String?
        public var stop_sequence: String?
        public var usage: Usage

        /// Creates an answer.
        public init(id: String, model: String, content: [ContentBlock], stop_reason: String?, usage: Usage) {
            self.id = id
            self.model = model
            self.content = content
            self.stop_reason = stop_reason
            self.usage = usage
        }

        enum CodingKeys: String, CodingKey { case id, type, role, model, content, stop_reason, stop_sequence, usage }

        /// Encodes every member, `stop_sequence: null` included, as Anthropic does.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(self.id, forKey: .id)
            try c.encode(self.type, forKey: .type)
            try c.encode(self.role, forKey: .role)
            try c.encode(self.model, forKey: .model)
            try c.encode(self.content, forKey: .content)
            try c.encode(self.stop_reason, forKey: .stop_reason)
            try c.encode(self.stop_sequence, forKey: .stop_sequence)
            try c.encode(self.usage, forKey: .usage)
        }
    }

    /// Token counts: `input_tokens` excludes cache reads and cache writes.
    public struct Usage: Codable, Sendable, Equatable {
        public var input_tokens: Int?
        public var output_tokens: Int?
        public var cache_creation_input_tokens: Int?
        public var cache_read_input_tokens: Int?

        /// Creates counts.
        public init(
            input_tokens: Int? = nil,
            output_tokens: Int? = nil,
            cache_creation_input_tokens: Int? = nil,
            cache_read_input_tokens: Int? = nil
        ) {
            self.input_tokens = input_tokens
            self.output_tokens = output_tokens
            self.cache_creation_input_tokens = cache_creation_input_tokens
            self.cache_read_input_tokens = cache_read_input_tokens
        }

        /// The gateway's usage: prompt tokens are input, cache reads and cache writes together.
        public func tokenUsage() throws -> TokenUsage {
            try TokenUsage.excludingCache(
                input: self.input_tokens,
                cacheRead: self.cache_read_input_tokens,
                cacheWrite: self.cache_creation_input_tokens,
                output: self.output_tokens
            )
        }
    }

    /// An error body: `{"type": "error", "error": {"type": ..., "message": ...}}`.
    public struct ErrorBody: Codable, Sendable, Equatable {
        /// The inner error.
        public struct Detail: Codable, Sendable, Equatable {
            public var type: String
            public var message: String
        }
        public var type: String = "error"
        public var error: Detail

        /// Creates an error body.
        public init(type: String, message: String) { self.error = Detail(type: type, message: message) }
    }

    /// One streamed event's JSON (`message_start`, `content_block_delta`, ...): the union of their members.
    public struct StreamEvent: Codable, Sendable, Equatable {
        public var type: String
        public var message: Response?
        public var index: Int?
        public var content_block: ContentBlock?
        public var delta: StreamDelta?
        public var usage: Usage?
        public var error: ErrorBody.Detail?
    }

    /// The `delta` of `content_block_delta` and `message_delta` events.
    public struct StreamDelta: Codable, Sendable, Equatable {
        /// `text_delta`, `input_json_delta`, `thinking_delta`, `signature_delta` (absent in `message_delta`).
        public var type: String?
        public var text: String?
        public var partial_json: String?
        public var thinking: String?
        public var signature: String?
        public var stop_reason: String?
        public var stop_sequence: String?
    }
}

extension TextOrList where Element == AnthropicMessages.ContentBlock {
    /// The blocks, plain text being one text block.
    public var blocks: [AnthropicMessages.ContentBlock] {
        switch self {
        case .text(let text): [.text(text)]
        case .list(let blocks): blocks
        }
    }

    /// The text of every text block.
    public var text: String {
        switch self {
        case .text(let text): text
        case .list(let blocks): blocks.compactMap(\.text).joined()
        }
    }
}

// MARK: - Reading answers without Decodable

// Answers and stream events are read on every call of a translated route; reading them from the
// parsed tree costs a fraction of JSONDecoder's Decodable path (see docs/benchmarks.md).
extension AnthropicMessages.ContentBlock {
    /// A block of an answer or event; `nil` when `node` is not one.
    init?(answer node: JSONNode) {
        guard let type = node["type"]?.stringValue else { return nil }
        self.init(type: type)
        self.text = node["text"]?.stringValue
        self.id = node["id"]?.stringValue
        self.name = node["name"]?.stringValue
        self.input = node["input"]
        self.thinking = node["thinking"]?.stringValue
        self.signature = node["signature"]?.stringValue
        self.data = node["data"]?.stringValue
    }
}

extension AnthropicMessages.Usage {
    /// Token counts of an answer or event; `nil` when a count is present but not a whole number.
    init?(answer node: JSONNode) {
        func count(_ key: String) -> Int?? {
            guard let value = node[key], value != .null else { return .some(nil) }
            return value.intValue.map { .some($0) }
        }
        guard let input = count("input_tokens"), let output = count("output_tokens"),
            let written = count("cache_creation_input_tokens"), let read = count("cache_read_input_tokens")
        else { return nil }
        self.init(
            input_tokens: input,
            output_tokens: output,
            cache_creation_input_tokens: written,
            cache_read_input_tokens: read
        )
    }
}

extension AnthropicMessages.Response {
    /// A complete answer; `nil` when `node` is not one.
    init?(answer node: JSONNode) {
        guard let id = node["id"]?.stringValue, let blocks = node["content"]?.arrayValue,
            let usage = node["usage"].flatMap(AnthropicMessages.Usage.init(answer:))
        else { return nil }
        var content: [AnthropicMessages.ContentBlock] = []
        for block in blocks {
            guard let read = AnthropicMessages.ContentBlock(answer: block) else { return nil }
            content.append(read)
        }
        self.init(
            id: id,
            model: node["model"]?.stringValue ?? "",
            content: content,
            stop_reason: node["stop_reason"]?.stringValue,
            usage: usage
        )
        self.stop_sequence = node["stop_sequence"]?.stringValue
    }
}

extension AnthropicMessages.StreamEvent {
    /// One streamed event; `nil` when `node` is not one.
    init?(answer node: JSONNode) {
        guard let type = node["type"]?.stringValue else { return nil }
        self.type = type
        if let message = node["message"] {
            guard let read = AnthropicMessages.Response(answer: message) else { return nil }
            self.message = read
        }
        self.index = node["index"]?.intValue
        self.content_block = node["content_block"].flatMap(AnthropicMessages.ContentBlock.init(answer:))
        if let delta = node["delta"] {
            self.delta = AnthropicMessages.StreamDelta(
                type: delta["type"]?.stringValue,
                text: delta["text"]?.stringValue,
                partial_json: delta["partial_json"]?.stringValue,
                thinking: delta["thinking"]?.stringValue,
                signature: delta["signature"]?.stringValue,
                stop_reason: delta["stop_reason"]?.stringValue,
                stop_sequence: delta["stop_sequence"]?.stringValue
            )
        }
        if let usage = node["usage"] {
            guard let read = AnthropicMessages.Usage(answer: usage) else { return nil }
            self.usage = read
        }
        if let error = node["error"] {
            self.error = AnthropicMessages.ErrorBody.Detail(
                type: error["type"]?.stringValue ?? "error",
                message: error["message"]?.stringValue ?? ""
            )
        }
    }
}
