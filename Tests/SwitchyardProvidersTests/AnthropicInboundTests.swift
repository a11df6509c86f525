// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import SwitchyardCore
import SwitchyardProviders
import Testing

/// Parses the `event:`/`data:` pairs of Anthropic's stream.
private func anthropicEvents(_ buffer: ByteBuffer) throws -> [(name: String, data: JSONNode)] {
    var decoder = SSEDecoder()
    return try decoder.feed(buffer.readableBytesView).map { event in
        (event.name ?? "", try #require(JSONNode(parsing: event.data)))
    }
}

struct AnthropicInboundTests {
    @Test("A Messages request becomes the OpenAI request: system blocks, images, tool turns, choices, thinking")
    func translatesRequest() throws {
        let (body, reasoning) = try AnthropicInbound.chatBody(
            fromMessages: try fixture("anthropic-inbound/request.anthropic.json")
        )
        let expected = try #require(JSONNode(parsing: try fixture("anthropic-inbound/request.openai.json")))
        #expect(JSONNode(parsing: body) == expected)
        // The signed thinking block of the assistant turn (OpenAI message 2) is kept beside the body.
        #expect(reasoning.budgetTokens == 2048)
        #expect(
            reasoning.blocks == [
                2: [
                    .object([
                        "type": .string("thinking"), "thinking": .string("Paris, by the tower."),
                        "signature": .string("sig"),
                    ])
                ]
            ]
        )
        // And the gateway's own validation accepts it.
        let request = try ChatRequest(body: body)
        #expect(request.isStreaming && request.includesUsage)
        #expect(request.requirements.vision && request.requirements.tools)
    }

    @Test(
        "Invalid Messages bodies are 400s naming the field in Anthropic's dotted form",
        arguments: [
            (#"{"model": "m", "messages": [{"role": "user", "content": "x"}]}"#, "max_tokens"),
            (#"{"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}"#, "max_tokens"),
            (
                #"{"model": "m", "max_tokens": 2147483648, "messages": [{"role": "user", "content": "x"}]}"#,
                "max_tokens"
            ),
            (
                #"{"model": "m", "max_tokens": 5, "stop_sequences": ["a", "b", "c", "d", "e"], "messages": [{"role": "user", "content": "x"}]}"#,
                "stop_sequences"
            ),
            (#"{"model": "m", "max_tokens": 5, "messages": []}"#, "messages"),
            (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}"#, "messages.0.role"),
            (#"{"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}"#, "model"),
            (#"{"model": "m", "max_tokens": "5", "messages": [{"role": "user", "content": "x"}]}"#, "max_tokens"),
            (#"{"model": "m", "max_tokens": 5, "top_k": 3, "messages": [{"role": "user", "content": "x"}]}"#, "top_k"),
            (
                #"{"model": "m", "max_tokens": 5, "thinking": {"type": "enabled", "budget_tokens": 9223372036854775807}, "messages": [{"role": "user", "content": "x"}]}"#,
                "thinking.budget_tokens"
            ),
            (
                #"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "document"}]}]}"#,
                "messages.0.content.0.type"
            ),
            (
                #"{"model": "m", "max_tokens": 5, "tools": [{"type": "web_search_20250305", "name": "web_search"}], "messages": [{"role": "user", "content": "x"}]}"#,
                "tools.0.type"
            ),
        ]
    )
    func refusesInvalidBodies(body: String, field: String) throws {
        let error = try #require(throws: GatewayError.self) {
            try AnthropicInbound.chatBody(fromMessages: Array(body.utf8))
        }
        #expect(error.status == .badRequest)
        #expect(error.message.contains("`\(field)`"))
    }

    @Test("An OpenAI completion becomes a Messages answer: tool use blocks, stop reason, usage without cache reads")
    func translatesAnswer() throws {
        let completion = """
            {"id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
             "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "Checking.",
               "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}]}}],
             "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42, "prompt_tokens_details": {"cached_tokens": 10}}}
            """
        let answer = try #require(
            JSONNode(parsing: try AnthropicInbound.messagesBody(fromChatCompletion: Array(completion.utf8)))
        )
        #expect(answer["type"] == .string("message"))
        #expect(answer["stop_reason"] == .string("tool_use"))
        #expect(answer["stop_sequence"] == .null)
        #expect(
            answer["content"]
                == .array([
                    .object(["type": .string("text"), "text": .string("Checking.")]),
                    .object([
                        "type": .string("tool_use"), "id": .string("call_1"), "name": .string("get_weather"),
                        "input": .object(["city": .string("Paris")]),
                    ]),
                ])
        )
        #expect(answer["usage"]?["input_tokens"] == .number(20))
        #expect(answer["usage"]?["cache_read_input_tokens"] == .number(10))
        #expect(answer["usage"]?["output_tokens"] == .number(12))

        let broken = completion.replacingOccurrences(of: #"{\"city\": \"Paris\"}"#, with: "{oops")
        let error = try #require(throws: ProviderError.self) {
            try AnthropicInbound.messagesBody(fromChatCompletion: Array(broken.utf8))
        }
        #expect(error.message.contains("`get_weather`"))
    }

    @Test(
        "An OpenAI stream becomes Anthropic's exact event sequence, whatever the chunking",
        arguments: [1, 9, 100_000]
    )
    func translatesStream(pieceSize: Int) throws {
        let bytes = try fixture("anthropic-inbound/stream.openai.sse")
        var writer = AnthropicEventWriter(model: "gpt-4o-mini")
        var out = ByteBuffer()
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + pieceSize)
            var piece = try writer.translate(ByteBuffer(bytes: bytes[start..<end]))
            out.writeBuffer(&piece)
            start = end
        }
        let events = try anthropicEvents(out)
        #expect(
            events.map(\.name) == [
                "message_start",
                "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                "message_delta", "message_stop",
            ]
        )
        #expect(events.allSatisfy { $0.data["type"] == .string($0.name) })
        #expect(events[0].data["message"]?["model"] == .string("gpt-4o-mini-2024-07-18"))
        #expect(events[1].data["content_block"]?["type"] == .string("text"))
        #expect(events[2].data["delta"] == .object(["type": .string("text_delta"), "text": .string("Let me")]))
        #expect(events[5].data["index"] == .number(1))
        #expect(events[5].data["content_block"]?["name"] == .string("get_weather"))
        #expect(events[5].data["content_block"]?["id"] == .string("call_1"))
        let json = events[6...7].compactMap { $0.data["delta"]?["partial_json"]?.stringValue }.joined()
        #expect(json == #"{"city":"Paris"}"#)
        #expect(events[9].data["delta"]?["stop_reason"] == .string("tool_use"))
        #expect(events[9].data["usage"]?["output_tokens"] == .number(12))
        #expect(events[9].data["usage"]?["input_tokens"] == .number(20))
    }

    @Test("Thinking comes back as Anthropic blocks with their signatures, in answers and in streams")
    func thinkingBack() throws {
        let completion = """
            {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [{"index": 0, "finish_reason": "stop",
              "message": {"role": "assistant", "content": "Hi", "reasoning_content": "think",
                "thinking_blocks": [{"type": "thinking", "thinking": "think", "signature": "sig"}]}}],
             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
            """
        let answer = try #require(
            JSONNode(parsing: try AnthropicInbound.messagesBody(fromChatCompletion: Array(completion.utf8)))
        )
        #expect(
            answer["content"]
                == .array([
                    .object(["type": .string("thinking"), "thinking": .string("think"), "signature": .string("sig")]),
                    .object(["type": .string("text"), "text": .string("Hi")]),
                ])
        )

        var writer = AnthropicEventWriter(model: "m")
        let chunks = """
            data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"reasoning_content":"think"}}]}

            data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"thinking_blocks":[{"type":"thinking","signature":"sig"}]}}]}

            data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}

            data: [DONE]


            """
        let events = try anthropicEvents(try writer.translate(ByteBuffer(string: chunks)))
        #expect(
            events.map(\.name) == [
                "message_start", "content_block_start", "content_block_delta", "content_block_delta",
                "content_block_stop",
                "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
            ]
        )
        #expect(events[3].data["delta"] == .object(["type": .string("signature_delta"), "signature": .string("sig")]))
        #expect(events[5].data["index"] == .number(1))
    }

    @Test("Errors on /v1/messages carry Anthropic's error types by status")
    func errorShape() throws {
        let body = try #require(JSONNode(parsing: AnthropicInbound.errorBody(status: 429, message: "slow down")))
        #expect(
            body
                == .object([
                    "type": .string("error"),
                    "error": .object(["type": .string("rate_limit_error"), "message": .string("slow down")]),
                ])
        )
        #expect(AnthropicInbound.errorType(forStatus: 401) == "authentication_error")
        #expect(AnthropicInbound.errorType(forStatus: 502) == "api_error")
        #expect(AnthropicInbound.errorType(forStatus: 503) == "overloaded_error")
    }

    @Test("count_tokens grows with the text, the tools and the images it is given")
    func estimatesTokens() throws {
        func estimate(_ body: String) throws -> Int {
            try AnthropicInbound.estimateInputTokens(Array(body.utf8)).tokens
        }
        let short = try estimate(#"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#)
        let long = try estimate(
            #"{"model": "m", "messages": [{"role": "user", "content": "\#(String(repeating: "word ", count: 400))"}]}"#
        )
        let image = try estimate(
            #"{"model": "m", "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}]}"#
        )
        #expect(short < long && long >= 500)
        #expect(image >= 1600)
    }
}
