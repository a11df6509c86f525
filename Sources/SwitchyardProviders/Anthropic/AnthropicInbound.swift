// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import SwitchyardCore

/// Serves Anthropic's Messages API from any route: a `POST /v1/messages` body becomes an OpenAI chat
/// request for the pipeline, and the OpenAI answer (JSON or stream) becomes Anthropic's.
public enum AnthropicInbound {
    /// The OpenAI chat body for a Messages body, and what it says about reasoning that the body cannot
    /// carry exactly (signed thinking blocks, the thinking budget); throws a 400 ``GatewayError`` naming
    /// the field.
    public static func chatBody(
        fromMessages body: [UInt8]
    ) throws(GatewayError) -> (body: [UInt8], reasoning: InboundReasoning) {
        let request = try self.decode(body)
        let translated = try self.translate(request)
        do {
            return (Array(try JSONDecoderFactory.encoder.encode(translated)), translated.inboundReasoning)
        } catch {
            throw .invalidRequest("The request could not be translated: \(error)", param: nil)
        }
    }

    /// The model and an estimate of the input tokens of a `count_tokens` body (a Messages body without
    /// `max_tokens`): four characters of text, schema or tool input per token, 1,600 per image.
    public static func estimateInputTokens(_ body: [UInt8]) throws(GatewayError) -> (model: String, tokens: Int) {
        var request = try self.decode(body)
        request.max_tokens = request.max_tokens ?? 1
        let translated = try self.translate(request)
        var characters = 0
        var images = 0
        for message in translated.messages {
            switch message.content {
            case .text(let text): characters += text.count
            case .list(let parts):
                for part in parts {
                    characters += part.text?.count ?? 0
                    if part.image_url != nil { images += 1 }
                }
            case nil: break
            }
            for call in message.tool_calls ?? [] {
                characters += call.function.name.count + call.function.arguments.count
            }
        }
        for tool in translated.tools ?? [] {
            characters += tool.function.name.count + (tool.function.description?.count ?? 0)
            characters += tool.function.parameters?.text.count ?? 0
        }
        return (request.model, characters / 4 + images * 1600 + translated.messages.count * 3)
    }

    static func decode(_ body: [UInt8]) throws(GatewayError) -> AnthropicMessages.Request {
        guard !JSONText.nestsTooDeeply(body) else {
            throw .invalidRequest(
                "The body nests deeper than \(JSONText.maxNesting) levels.",
                param: nil,
                code: "nesting_too_deep"
            )
        }
        do {
            return try JSONDecoderFactory.decoder.decode(AnthropicMessages.Request.self, from: Data(body))
        } catch let DecodingError.keyNotFound(key, context) {
            let path = Self.path(context.codingPath + [key])
            throw .invalidRequest("`\(path)`: Field required", param: path)
        } catch let DecodingError.typeMismatch(type, context) {
            let path = Self.path(context.codingPath)
            throw .invalidRequest("`\(path)`: expected \(Self.describe(type))", param: path)
        } catch let DecodingError.valueNotFound(type, context) {
            let path = Self.path(context.codingPath)
            throw .invalidRequest("`\(path)`: expected \(Self.describe(type)), got null", param: path)
        } catch {
            throw .invalidRequest("The body is not valid JSON.", param: nil)
        }
    }

    /// The OpenAI request for a Messages request.
    static func translate(_ request: AnthropicMessages.Request) throws(GatewayError) -> OpenAIChat.Request {
        guard let maxTokens = request.max_tokens else {
            throw .invalidRequest("`max_tokens`: Field required", param: "max_tokens")
        }
        guard (1...ChatRequest.Limits.outputTokens).contains(maxTokens) else {
            throw .invalidRequest(
                "`max_tokens` must be between 1 and \(ChatRequest.Limits.outputTokens); got \(maxTokens)",
                param: "max_tokens"
            )
        }
        guard !request.messages.isEmpty else {
            throw .invalidRequest("`messages` must contain at least one message", param: "messages")
        }
        if let temperature = request.temperature, !(0...1).contains(temperature) {
            throw .invalidRequest("`temperature` must be between 0 and 1; got \(temperature)", param: "temperature")
        }
        if request.top_k != nil {
            throw .invalidRequest(
                "`top_k` cannot be expressed in the Chat Completions API the gateway routes through",
                param: "top_k"
            )
        }

        var messages: [OpenAIChat.Message] = []
        var preserved: [Int: [JSONNode]] = [:]
        if let system = request.system {
            messages.append(
                OpenAIChat.Message(role: "system", content: try Self.content(system.blocks, path: "system"))
            )
        }
        for (index, message) in request.messages.enumerated() {
            let path = "messages.\(index)"
            switch message.role {
            case "user":
                var rest: [AnthropicMessages.ContentBlock] = []
                for (blockIndex, block) in message.content.enumerated() {
                    guard block.type == "tool_result" else {
                        rest.append(block)
                        continue
                    }
                    guard let id = block.tool_use_id else {
                        throw .invalidRequest(
                            "`\(path).content.\(blockIndex).tool_use_id`: Field required",
                            param: "\(path).content.\(blockIndex).tool_use_id"
                        )
                    }
                    let text = block.content?.text ?? ""
                    // OpenAI has no error flag on tool results; the text says it instead.
                    let result = block.is_error == true ? "Error: \(text)" : text
                    messages.append(OpenAIChat.Message(role: "tool", content: .text(result), tool_call_id: id))
                }
                if !rest.isEmpty {
                    messages.append(
                        OpenAIChat.Message(role: "user", content: try Self.content(rest, path: "\(path).content"))
                    )
                }
            case "assistant":
                var text = ""
                var calls: [OpenAIChat.ToolCall] = []
                for (blockIndex, block) in message.content.enumerated() {
                    switch block.type {
                    case "text": text += block.text ?? ""
                    case "tool_use": calls.append(block.openAIToolCall)
                    // Thinking has no input form in the Chat Completions API: it is kept beside the body,
                    // for an Anthropic route to send back unchanged; other routes go without it.
                    case "thinking", "redacted_thinking":
                        if block.isReturnableReasoning, let node = block.jsonNode {
                            preserved[messages.count, default: []].append(node)
                        }
                    default:
                        throw .invalidRequest(
                            "`\(path).content.\(blockIndex).type` `\(block.type)` is not supported in assistant turns",
                            param: "\(path).content.\(blockIndex).type"
                        )
                    }
                }
                messages.append(
                    OpenAIChat.Message(
                        role: "assistant",
                        content: text.isEmpty && !calls.isEmpty ? nil : .text(text),
                        tool_calls: calls.isEmpty ? nil : calls
                    )
                )
            default:
                throw .invalidRequest(
                    "`\(path).role` must be `user` or `assistant`; got `\(message.role)`",
                    param: "\(path).role"
                )
            }
        }

        var translated = OpenAIChat.Request(model: request.model, messages: messages)
        translated.inboundReasoning.blocks = preserved
        translated.max_tokens = maxTokens
        translated.temperature = request.temperature
        translated.top_p = request.top_p
        if let stops = request.stop_sequences, !stops.isEmpty {
            guard stops.count <= ChatRequest.Limits.stopSequences else {
                throw .invalidRequest(
                    "`stop_sequences` may hold at most \(ChatRequest.Limits.stopSequences) entries when routed "
                        + "through the Chat Completions API; got \(stops.count)",
                    param: "stop_sequences"
                )
            }
            translated.stop = OpenAIChat.Stop(stops)
        }
        translated.user = request.metadata?.user_id
        if request.stream == true {
            translated.stream = true
            // The final message_delta reports usage, so the stream must end with it.
            translated.stream_options = OpenAIChat.StreamOptions(include_usage: true)
        }
        if let tools = request.tools, !tools.isEmpty {
            translated.tools = try tools.enumerated().map { (index, tool) throws(GatewayError) in
                if let type = tool.type, type != "custom" {
                    throw .invalidRequest(
                        "`tools.\(index).type` `\(type)` is an Anthropic server tool, which other routes cannot run",
                        param: "tools.\(index).type"
                    )
                }
                return OpenAIChat.Tool(
                    function: OpenAIChat.FunctionDefinition(
                        name: tool.name,
                        description: tool.description,
                        parameters: tool.input_schema
                    )
                )
            }
        }
        if let choice = request.tool_choice {
            switch choice.type {
            case "auto": translated.tool_choice = .mode("auto")
            case "any": translated.tool_choice = .mode("required")
            case "none": translated.tool_choice = .mode("none")
            case "tool": translated.tool_choice = .function(choice.name ?? "")
            default:
                throw .invalidRequest(
                    "`tool_choice.type` must be auto, any, tool or none; got `\(choice.type)`",
                    param: "tool_choice.type"
                )
            }
            if choice.disable_parallel_tool_use == true { translated.parallel_tool_calls = false }
        }
        if let thinking = request.thinking, thinking.type == "enabled" {
            let budget = thinking.budget_tokens ?? 0
            guard (1024...ChatRequest.Limits.outputTokens).contains(budget) else {
                throw .invalidRequest(
                    "`thinking.budget_tokens` must be between 1024 and \(ChatRequest.Limits.outputTokens); got \(budget)",
                    param: "thinking.budget_tokens"
                )
            }
            translated.reasoning_effort = budget <= 1024 ? "low" : budget <= 8192 ? "medium" : "high"
            translated.inboundReasoning.budgetTokens = thinking.budget_tokens
        }
        return translated
    }

    /// OpenAI content for Anthropic blocks: a plain string when it is one uncached text block.
    static func content(
        _ blocks: [AnthropicMessages.ContentBlock],
        path: String
    ) throws(GatewayError)
        -> OpenAIChat.Content
    {
        if blocks.count == 1, blocks[0].type == "text", blocks[0].cache_control == nil {
            return .text(blocks[0].text ?? "")
        }
        var parts: [OpenAIChat.ContentPart] = []
        for (index, block) in blocks.enumerated() {
            switch block.type {
            case "text":
                var part = OpenAIChat.ContentPart(text: block.text ?? "")
                part.cache_control = block.cache_control
                parts.append(part)
            case "image":
                guard let source = block.source else {
                    throw .invalidRequest("`\(path).\(index).source`: Field required", param: "\(path).\(index).source")
                }
                let url: String
                switch source.type {
                case "base64":
                    url = "data:\(source.media_type ?? "image/png");base64,\(source.data ?? "")"
                case "url":
                    url = source.url ?? ""
                default:
                    throw .invalidRequest(
                        "`\(path).\(index).source.type` must be base64 or url; got `\(source.type)`",
                        param: "\(path).\(index).source.type"
                    )
                }
                var part = OpenAIChat.ContentPart(imageURL: url)
                part.cache_control = block.cache_control
                parts.append(part)
            default:
                throw .invalidRequest(
                    "`\(path).\(index).type` `\(block.type)` is not supported here",
                    param: "\(path).\(index).type"
                )
            }
        }
        return .list(parts)
    }

    // MARK: Answers

    /// A Messages answer for an OpenAI completion body; throws ``ProviderError`` when it is malformed
    /// or a tool call's arguments are not a JSON object.
    public static func messagesBody(fromChatCompletion body: [UInt8]) throws -> [UInt8] {
        guard let response = JSONText.decode(OpenAIChat.Response.self, from: body) else {
            throw ProviderError(kind: .invalidResponse, message: "the upstream answer is not a chat completion")
        }
        let choice = response.choices.first
        var content: [AnthropicMessages.ContentBlock] = Self.reasoningBlocks(choice?.message)
        if let text = choice?.message.content?.text, !text.isEmpty { content.append(.text(text)) }
        for call in choice?.message.tool_calls ?? [] {
            let arguments = call.function.arguments.isEmpty ? "{}" : call.function.arguments
            guard let input = JSONNode(parsing: Array(arguments.utf8)), case .object = input else {
                throw ProviderError(
                    kind: .invalidResponse,
                    message: "the model called tool `\(call.function.name)` with arguments that are not a JSON object"
                )
            }
            content.append(.toolUse(id: call.id, name: call.function.name, input: input))
        }
        let answer = AnthropicMessages.Response(
            id: response.id,
            model: response.model,
            content: content,
            stop_reason: Self.stopReason(choice?.finish_reason),
            usage: Self.usage(response.usage)
        )
        return Array(try JSONDecoderFactory.encoder.encode(answer))
    }

    /// The thinking blocks of an answer: the provider's own when it sent them (signatures included),
    /// else one unsigned block with the reasoning text.
    static func reasoningBlocks(_ message: OpenAIChat.Message?) -> [AnthropicMessages.ContentBlock] {
        let blocks = (message?.thinking_blocks ?? []).compactMap(AnthropicMessages.ContentBlock.init(reasoning:))
        if !blocks.isEmpty { return blocks }
        guard let reasoning = message?.reasoning_content, !reasoning.isEmpty else { return [] }
        var block = AnthropicMessages.ContentBlock(type: "thinking")
        block.thinking = reasoning
        block.signature = ""
        return [block]
    }

    /// Anthropic's `stop_reason` for OpenAI's `finish_reason`.
    static func stopReason(_ finishReason: String?) -> String? {
        switch finishReason {
        case nil: nil
        case "length": "max_tokens"
        case "tool_calls", "function_call": "tool_use"
        case "content_filter": "refusal"
        default: "end_turn"
        }
    }

    /// Anthropic usage: `input_tokens` without cache reads and writes.
    static func usage(_ usage: OpenAIChat.Usage?) -> AnthropicMessages.Usage {
        guard let usage else { return AnthropicMessages.Usage(input_tokens: 0, output_tokens: 0) }
        let cached = max(0, usage.prompt_tokens_details?.cached_tokens ?? 0)
        let written = max(0, usage.prompt_tokens_details?.cache_creation_tokens ?? 0)
        return AnthropicMessages.Usage(
            input_tokens: max(0, usage.prompt_tokens - cached - written),
            output_tokens: usage.completion_tokens,
            cache_creation_input_tokens: written,
            cache_read_input_tokens: cached
        )
    }

    /// An error in Anthropic's shape.
    public static func errorBody(status: Int, message: String) -> [UInt8] {
        let body = AnthropicMessages.ErrorBody(type: self.errorType(forStatus: status), message: message)
        return (try? Array(JSONDecoderFactory.encoder.encode(body))) ?? Array(#"{"type":"error"}"#.utf8)
    }

    /// Anthropic's error `type` for an HTTP status.
    public static func errorType(forStatus status: Int) -> String {
        switch status {
        case 400, 422: "invalid_request_error"
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 503, 529: "overloaded_error"
        default: "api_error"
        }
    }

    /// `event: error` with Anthropic's error body, for a stream that fails after it began.
    public static func errorEvent(status: Int, message: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("event: error\ndata: ")
        buffer.writeBytes(self.errorBody(status: status, message: message))
        buffer.writeString("\n\n")
        return buffer
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "a boolean"
        default: "another type"
        }
    }
}

/// Turns the OpenAI events of a relayed stream into Anthropic's event sequence: `message_start`,
/// a `content_block_start` / `_delta` / `_stop` group per text, thinking or tool-use block,
/// `message_delta` with the stop reason and usage, `message_stop`.
public struct AnthropicEventWriter: Sendable {
    private enum Block: Equatable {
        case text
        case thinking
        case redacted
        case tool(Int)
    }

    private var decoder = SSEDecoder()
    private var started = false
    private var open: Block?
    private var nextIndex = 0
    private var finishReason: String?
    private var usage: OpenAIChat.Usage?
    private let fallbackModel: String

    /// Creates a writer; `model` names the model until the first chunk does.
    public init(model: String) { self.fallbackModel = model }

    /// Anthropic events for the OpenAI events in `bytes`; throws ``ProviderError`` for a malformed
    /// chunk or a tool call whose arguments are not JSON.
    public mutating func translate(_ bytes: ByteBuffer) throws -> ByteBuffer {
        var out = ByteBuffer()
        let events = try self.decoder.upstreamEvents(in: bytes)
        for event in events {
            if event.data.elementsEqual("[DONE]".utf8) {
                self.finish(into: &out)
                continue
            }
            guard let chunk = JSONText.decode(OpenAIChat.Chunk.self, from: event.data) else {
                throw ProviderError(kind: .invalidResponse, message: "a stream chunk is not a chat completion chunk")
            }
            try self.translate(chunk, into: &out)
        }
        return out
    }

    private mutating func translate(_ chunk: OpenAIChat.Chunk, into out: inout ByteBuffer) throws {
        if !self.started {
            self.started = true
            let message = AnthropicMessages.Response(
                id: chunk.id,
                model: chunk.model.isEmpty ? self.fallbackModel : chunk.model,
                content: [],
                stop_reason: nil,
                usage: AnthropicMessages.Usage(input_tokens: 0, output_tokens: 0)
            )
            struct Start: Encodable {
                var type = "message_start"
                var message: AnthropicMessages.Response
            }
            try Self.write("message_start", Start(message: message), into: &out)
        }
        if let usage = chunk.usage { self.usage = usage }
        guard let choice = chunk.choices.first(where: { $0.index == 0 }) else { return }
        if let reasoning = choice.delta.reasoning_content, !reasoning.isEmpty {
            try self.ensure(.thinking, into: &out)
            try self.delta(["type": "thinking_delta", "thinking": reasoning], into: &out)
        }
        for block in choice.delta.thinking_blocks ?? [] {
            if block["type"] == .string("redacted_thinking"),
                let redacted = AnthropicMessages.ContentBlock(reasoning: block)
            {
                try self.close(into: &out)
                try self.start(.redacted, redacted, into: &out)
                try self.close(into: &out)
            } else if let signature = block["signature"]?.stringValue, !signature.isEmpty {
                try self.ensure(.thinking, into: &out)
                try self.delta(["type": "signature_delta", "signature": signature], into: &out)
            }
        }
        if let text = choice.delta.content, !text.isEmpty {
            try self.ensure(.text, into: &out)
            try self.delta(["type": "text_delta", "text": text], into: &out)
        }
        for call in choice.delta.tool_calls ?? [] {
            if self.open != .tool(call.index) {
                try self.close(into: &out)
                var block = AnthropicMessages.ContentBlock(type: "tool_use")
                block.id = call.id ?? ""
                block.name = call.function.name ?? ""
                block.input = .object([:])
                try self.start(.tool(call.index), block, into: &out)
            }
            if let arguments = call.function.arguments, !arguments.isEmpty {
                try self.delta(["type": "input_json_delta", "partial_json": arguments], into: &out)
            }
        }
        if let reason = choice.finish_reason { self.finishReason = reason }
    }

    private mutating func finish(into out: inout ByteBuffer) {
        try? self.close(into: &out)
        let usage = AnthropicInbound.usage(self.usage)
        struct Delta: Encodable {
            var stop_reason: String?
            var stop_sequence: String?
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: AnyCodingKey.self)
                try c.encode(self.stop_reason, forKey: AnyCodingKey(stringValue: "stop_reason"))
                try c.encode(self.stop_sequence, forKey: AnyCodingKey(stringValue: "stop_sequence"))
            }
        }
        struct MessageDelta: Encodable {
            var type = "message_delta"
            var delta: Delta
            var usage: AnthropicMessages.Usage
        }
        try? Self.write(
            "message_delta",
            MessageDelta(
                delta: Delta(stop_reason: AnthropicInbound.stopReason(self.finishReason) ?? "end_turn"),
                usage: usage
            ),
            into: &out
        )
        try? Self.write("message_stop", ["type": "message_stop"], into: &out)
    }

    private mutating func ensure(_ block: Block, into out: inout ByteBuffer) throws {
        guard self.open != block else { return }
        try self.close(into: &out)
        var content = AnthropicMessages.ContentBlock(type: block == .thinking ? "thinking" : "text")
        if block == .thinking { content.thinking = "" } else { content.text = "" }
        try self.start(block, content, into: &out)
    }

    private mutating func start(
        _ block: Block,
        _ content: AnthropicMessages.ContentBlock,
        into out: inout ByteBuffer
    )
        throws
    {
        struct Start: Encodable {
            var type = "content_block_start"
            var index: Int
            var content_block: AnthropicMessages.ContentBlock
        }
        try Self.write("content_block_start", Start(index: self.nextIndex, content_block: content), into: &out)
        self.open = block
    }

    private mutating func close(into out: inout ByteBuffer) throws {
        guard self.open != nil else { return }
        struct Stop: Encodable {
            var type = "content_block_stop"
            var index: Int
        }
        try Self.write("content_block_stop", Stop(index: self.nextIndex), into: &out)
        self.open = nil
        self.nextIndex += 1
    }

    private func delta(_ delta: [String: String], into out: inout ByteBuffer) throws {
        struct Delta: Encodable {
            var type = "content_block_delta"
            var index: Int
            var delta: [String: String]
        }
        try Self.write("content_block_delta", Delta(index: self.nextIndex, delta: delta), into: &out)
    }

    private static func write(_ name: String, _ value: some Encodable, into out: inout ByteBuffer) throws {
        out.writeString("event: \(name)\ndata: ")
        out.writeBytes(try JSONDecoderFactory.encoder.encode(value))
        out.writeString("\n\n")
    }
}
