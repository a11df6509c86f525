// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore

/// Converts between the two forms of one chat answer: a streamed answer is assembled into a
/// `chat.completion` to be cached, and a cached completion is replayed as a stream of chunks.
///
/// Both read bytes that came from an upstream, so both are strict: an event that is not a chunk, a
/// stream without `[DONE]`, an error event or more than ``limits`` choices and tool calls make the
/// answer uncacheable rather than half-stored.
public enum AnswerReplay {
    /// Bounds on what an assembled answer may hold.
    public enum Limits {
        /// Most choices (as `n` allows).
        public static let choices = ChatRequest.Limits.choices
        /// Most tool calls per choice.
        public static let toolCalls = 1024
    }

    /// The `chat.completion` a complete event stream amounts to, with `usage`; `nil` when the stream
    /// is not a complete, well-formed OpenAI chat stream.
    public static func assemble(events sse: [UInt8], usage: TokenUsage?) -> [UInt8]? {
        var decoder = SSEDecoder()
        guard var events = try? decoder.feed(sse) else { return nil }
        // A stream's last event ends with a blank line; one missing means the capture was cut.
        guard !decoder.hasPendingBytes else { return nil }
        guard let last = events.popLast(), last.data.elementsEqual("[DONE]".utf8) else { return nil }
        var identity: (id: String, created: Int, model: String)?
        var choices: [Int: OpenAIChat.Message] = [:]
        var finishReasons: [Int: String] = [:]
        var toolCalls: [Int: [Int: OpenAIChat.ToolCall]] = [:]
        for event in events where !event.data.isEmpty {
            guard event.name == nil || event.name == "message",
                let chunk = try? JSONDecoderFactory.decoder.decode(OpenAIChat.Chunk.self, from: Data(event.data))
            else { return nil }
            if identity == nil { identity = (chunk.id, chunk.created, chunk.model) }
            for choice in chunk.choices {
                guard (0..<Limits.choices).contains(choice.index) else { return nil }
                var message = choices[choice.index] ?? OpenAIChat.Message(role: "assistant")
                if let role = choice.delta.role { message.role = role }
                if let text = choice.delta.content {
                    if case .text(let sofar)? = message.content {
                        message.content = .text(sofar + text)
                    } else {
                        message.content = .text(text)
                    }
                }
                if let reasoning = choice.delta.reasoning_content {
                    message.reasoning_content = (message.reasoning_content ?? "") + reasoning
                }
                if let blocks = choice.delta.thinking_blocks {
                    message.thinking_blocks = (message.thinking_blocks ?? []) + blocks
                }
                for call in choice.delta.tool_calls ?? [] {
                    guard (0..<Limits.toolCalls).contains(call.index) else { return nil }
                    var calls = toolCalls[choice.index] ?? [:]
                    var built = calls[call.index] ?? OpenAIChat.ToolCall(id: "", name: "", arguments: "")
                    if let id = call.id { built.id = id }
                    if let name = call.function.name { built.function.name += name }
                    if let arguments = call.function.arguments { built.function.arguments += arguments }
                    calls[call.index] = built
                    toolCalls[choice.index] = calls
                }
                choices[choice.index] = message
                if let reason = choice.finish_reason { finishReasons[choice.index] = reason }
            }
        }
        guard let identity, !choices.isEmpty else { return nil }
        var response = OpenAIChat.Response(
            id: identity.id,
            created: identity.created,
            model: identity.model,
            choices: choices.keys.sorted().map { index in
                var message = choices[index]!
                if let calls = toolCalls[index] { message.tool_calls = calls.keys.sorted().map { calls[$0]! } }
                return OpenAIChat.Choice(index: index, message: message, finish_reason: finishReasons[index])
            },
            usage: usage.map(OpenAIChat.Usage.init)
        )
        response.object = "chat.completion"
        return try? Array(JSONDecoderFactory.encoder.encode(response))
    }

    /// The events that replay the `chat.completion` `body`: a role chunk, the reasoning, the text in
    /// pieces of at most `piece` characters, the tool calls, the finish reason, a usage chunk (the
    /// relay drops it when the client did not ask for usage), then `[DONE]`; `nil` for a body that
    /// is not a chat completion.
    public static func events(completion body: [UInt8], piece: Int = 64) -> ByteBuffer? {
        guard let response = try? JSONDecoderFactory.decoder.decode(OpenAIChat.Response.self, from: Data(body)) else {
            return nil
        }
        var output = ByteBuffer()
        func emit(_ choices: [OpenAIChat.ChunkChoice], usage: OpenAIChat.Usage? = nil) -> Bool {
            let chunk = OpenAIChat.Chunk(
                id: response.id,
                created: response.created,
                model: response.model,
                choices: choices,
                usage: usage
            )
            guard let data = try? JSONDecoderFactory.encoder.encode(chunk) else { return false }
            output.writeString("data: ")
            output.writeBytes(data)
            output.writeString("\n\n")
            return true
        }
        for choice in response.choices {
            let message = choice.message
            // An answer of tool calls alone has no content, not an empty one: it replays as it was.
            let opening = OpenAIChat.Delta(role: message.role, content: message.content == nil ? nil : "")
            guard emit([.init(index: choice.index, delta: opening)]) else { return nil }
            if message.reasoning_content != nil || message.thinking_blocks != nil {
                let delta = OpenAIChat.Delta(
                    reasoning_content: message.reasoning_content,
                    thinking_blocks: message.thinking_blocks
                )
                guard emit([.init(index: choice.index, delta: delta)]) else { return nil }
            }
            let text = message.content?.text ?? ""
            var rest = Substring(text)
            while !rest.isEmpty {
                let part = rest.prefix(max(1, piece))
                rest = rest.dropFirst(part.count)
                guard emit([.init(index: choice.index, delta: .init(content: String(part)))]) else { return nil }
            }
            for (index, call) in (message.tool_calls ?? []).enumerated() {
                let delta = OpenAIChat.ToolCallDelta(
                    index: index,
                    id: call.id,
                    name: call.function.name,
                    arguments: call.function.arguments
                )
                guard emit([.init(index: choice.index, delta: .init(tool_calls: [delta]))]) else { return nil }
            }
            // As stored: a stream that ended without a finish reason replays without one.
            guard emit([.init(index: choice.index, delta: .init(), finish_reason: choice.finish_reason)])
            else { return nil }
        }
        if let usage = response.usage, !emit([], usage: usage) { return nil }
        output.writeString("data: [DONE]\n\n")
        return output
    }
}
