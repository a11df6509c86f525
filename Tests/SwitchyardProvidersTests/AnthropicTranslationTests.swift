// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import SwitchyardCore
import SwitchyardProviders
import Testing

/// Reads a fixture file of this test target.
func fixture(_ path: String) throws -> [UInt8] {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/" + path, withExtension: nil))
    return Array(try Data(contentsOf: url))
}

/// Feeds `bytes` to `reader` in pieces of `size` bytes, as a network would, and collects the chunks.
func readAll<Reader: ChatStreamReader>(
    _ bytes: [UInt8],
    with reader: inout Reader,
    pieceSize size: Int
) throws
    -> [OpenAIChat.Chunk]
{
    var chunks: [OpenAIChat.Chunk] = []
    var start = 0
    while start < bytes.count {
        let end = min(bytes.count, start + size)
        chunks += try reader.read(ByteBuffer(bytes: bytes[start..<end]))
        start = end
    }
    return chunks + (try reader.finish())
}

struct AnthropicTranslationTests {
    let translator = AnthropicTranslator(baseURL: "https://api.anthropic.com/v1", apiKey: "sk-ant-test")
    let route = Route(
        provider: SimulatorProvider(name: "anthropic", settings: .init()),
        upstreamModel: "claude-sonnet-4-5-20250929",
        maxOutputTokens: 64000
    )

    @Test("An OpenAI request with system, images, tool calls and results becomes the Messages request")
    func translatesRequest() throws {
        let request = try OpenAIChat.Request(body: try fixture("anthropic/request-tools.openai.json"))
        let upstream = try self.translator.makeChatRequest(request, route: self.route)
        #expect(upstream.url == "https://api.anthropic.com/v1/messages")
        #expect(upstream.headers.contains { $0 == ("x-api-key", "sk-ant-test") })
        #expect(upstream.headers.contains { $0 == ("anthropic-version", "2023-06-01") })
        #expect(!upstream.headers.contains { $0.0 == "authorization" })
        let sent = try #require(JSONNode(parsing: upstream.body))
        let expected = try #require(JSONNode(parsing: try fixture("anthropic/request-tools.anthropic.json")))
        #expect(sent == expected)
    }

    @Test("max_tokens comes from the route when the client gives none, and thinking budgets fit inside it")
    func maxTokensAndThinking() throws {
        var request = OpenAIChat.Request(model: "m", messages: [.init(role: "user", content: .text("hi"))])
        let plain = try AnthropicTranslator.translate(request, upstreamModel: "m", routeMaxOutput: 8192)
        #expect(plain.max_tokens == 8192)
        let unknown = try AnthropicTranslator.translate(request, upstreamModel: "m", routeMaxOutput: nil)
        #expect(unknown.max_tokens == AnthropicTranslator.defaultMaxTokens)

        request.reasoning_effort = "high"
        request.max_tokens = 1000
        let thinking = try AnthropicTranslator.translate(request, upstreamModel: "m", routeMaxOutput: 8192)
        #expect(thinking.thinking == AnthropicMessages.Thinking(type: "enabled", budget_tokens: 16384))
        #expect((thinking.max_tokens ?? 0) > 16384)
    }

    @Test("Signed thinking blocks kept beside the body go back first in their assistant turn; unsigned ones never")
    func preservedThinking() throws {
        let body = """
            {"model": "m", "messages": [{"role": "user", "content": "q"},
             {"role": "assistant", "content": "a", "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
             {"role": "tool", "tool_call_id": "t", "content": "r"}]}
            """
        var request = try OpenAIChat.Request(body: Array(body.utf8))
        let signed: JSONNode = .object([
            "type": .string("thinking"), "thinking": .string("x"), "signature": .string("s"),
        ])
        let redacted: JSONNode = .object(["type": .string("redacted_thinking"), "data": .string("opaque")])
        let unsigned: JSONNode = .object(["type": .string("thinking"), "thinking": .string("y")])
        request.inboundReasoning = InboundReasoning(blocks: [1: [signed, redacted, unsigned]], budgetTokens: 3000)
        request.reasoning_effort = "medium"
        let translated = try AnthropicTranslator.translate(request, upstreamModel: "m", routeMaxOutput: 8000)
        #expect(translated.messages[1].content.map(\.type) == ["thinking", "redacted_thinking", "text", "tool_use"])
        #expect(translated.messages[1].content[0].signature == "s")
        #expect(translated.messages[1].content[1].data == "opaque")
        // The client's exact budget, not the effort level's.
        #expect(translated.thinking == AnthropicMessages.Thinking(type: "enabled", budget_tokens: 3000))
    }

    @Test("cache_control on content parts reaches Anthropic intact, and keeps the system prompt as blocks")
    func cacheControl() throws {
        let body = """
            {"model": "m", "messages": [
              {"role": "system", "content": [{"type": "text", "text": "long rules", "cache_control": {"type": "ephemeral"}}]},
              {"role": "user", "content": [{"type": "text", "text": "q", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}
            ]}
            """
        let request = try OpenAIChat.Request(body: Array(body.utf8))
        let translated = try AnthropicTranslator.translate(request, upstreamModel: "m", routeMaxOutput: nil)
        #expect(translated.system?.blocks.first?.cache_control == .object(["type": .string("ephemeral")]))
        #expect(
            translated.messages.first?.content.first?.cache_control
                == .object(["type": .string("ephemeral"), "ttl": .string("1h")])
        )
    }

    @Test(
        "What Anthropic cannot express is a 400 naming the parameter, never silently dropped",
        arguments: [
            (#""n": 2"#, "n"), (#""logprobs": true"#, "logprobs"), (#""seed": 7"#, "seed"),
            (#""temperature": 1.5"#, "temperature"),
            (#""response_format": {"type": "json_object"}"#, "response_format"),
            (#""frequency_penalty": 0.5"#, "frequency_penalty"),
            (#""reasoning_effort": "extreme""#, "reasoning_effort"),
        ]
    )
    func refusesWhatItCannotExpress(member: String, parameter: String) throws {
        let body = #"{"model": "m", "messages": [{"role": "user", "content": "hi"}], "# + member + "}"
        let request = try OpenAIChat.Request(body: Array(body.utf8))
        let error = try #require(throws: ProviderError.self) {
            try AnthropicTranslator.translate(request, upstreamModel: "m", routeMaxOutput: nil)
        }
        #expect(error.kind == .unsupported && error.param == parameter)
        #expect(error.message.contains("`\(parameter)`"))
    }

    @Test("A tool call whose arguments are not a JSON object is a 400 naming the field")
    func invalidToolArguments() throws {
        let body = """
            {"model": "m", "messages": [{"role": "user", "content": "hi"},
             {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}]}
            """
        let request = try OpenAIChat.Request(body: Array(body.utf8))
        let error = try #require(throws: ProviderError.self) {
            try AnthropicTranslator.translate(request, upstreamModel: "m", routeMaxOutput: nil)
        }
        #expect(error.message.contains("`messages[1].tool_calls[0].function.arguments`"))
    }

    @Test("A Messages answer with thinking, text and a tool use becomes an OpenAI completion with cache usage")
    func readsResponse() throws {
        let response = try self.translator.readChatResponse(
            try fixture("anthropic/response-tool-use.json"),
            upstreamModel: "claude-sonnet-4-5-20250929"
        )
        #expect(response.id == "msg_01Aq9w938a90dw8q")
        let choice = try #require(response.choices.first)
        #expect(choice.finish_reason == "tool_calls")
        #expect(choice.message.content == .text("I'll check tomorrow's forecast."))
        #expect(choice.message.reasoning_content == "The user wants tomorrow's weather.")
        // The block itself, signature included, so a client can hand it back unchanged.
        #expect(
            choice.message.thinking_blocks == [
                .object([
                    "type": .string("thinking"), "thinking": .string("The user wants tomorrow's weather."),
                    "signature": .string("EqQBCgIYAhIM1gbcDa9GJwZA2b3h"),
                ])
            ]
        )
        let call = try #require(choice.message.tool_calls?.first)
        #expect(call.id == "toolu_01D7FLrfh4GYq7yT1ULFeyMV")
        #expect(call.function.name == "get_weather")
        #expect(
            JSONNode(parsing: Array(call.function.arguments.utf8))
                == .object(["location": .string("San Francisco, CA"), "day": .string("tomorrow")])
        )
        let usage = try #require(response.usage)
        #expect(usage.prompt_tokens == 472 + 2048 + 100)
        #expect(usage.prompt_tokens_details?.cached_tokens == 2048)
        #expect(usage.prompt_tokens_details?.cache_creation_tokens == 100)
        #expect(usage.completion_tokens == 89)
        // What the gateway bills from: the same numbers read back from the OpenAI bytes.
        let bytes = try JSONEncoder().encode(usage)
        let billed = try TokenUsage(openAIUsage: Array(bytes))
        #expect(
            billed == TokenUsage(inputTokens: 2620, cachedInputTokens: 2048, cacheWriteTokens: 100, outputTokens: 89)
        )
    }

    @Test("A text stream becomes role, content and finish chunks, then a usage chunk", arguments: [1, 7, 4096])
    func readsTextStream(pieceSize: Int) throws {
        var reader = self.translator.makeStreamReader(upstreamModel: "claude-sonnet-4-5")
        let chunks = try readAll(try fixture("anthropic/stream-text.sse"), with: &reader, pieceSize: pieceSize)
        #expect(chunks.first?.choices.first?.delta.role == "assistant")
        #expect(chunks.compactMap { $0.choices.first?.delta.content }.joined() == "Hello!")
        #expect(chunks.compactMap { $0.choices.first?.finish_reason } == ["stop"])
        #expect(chunks.allSatisfy { $0.id == "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY" })
        #expect(chunks.allSatisfy { $0.model == "claude-sonnet-4-5-20250929" })
        let usage = try #require(chunks.last?.usage)
        #expect(chunks.last?.choices.isEmpty == true)
        #expect(usage.prompt_tokens == 35)
        #expect(usage.prompt_tokens_details?.cached_tokens == 10)
        #expect(usage.completion_tokens == 15)
    }

    @Test("Tool input deltas become tool-call argument deltas under one index; thinking becomes reasoning")
    func readsToolStream() throws {
        var reader = self.translator.makeStreamReader(upstreamModel: "m")
        let chunks = try readAll(try fixture("anthropic/stream-tool-use.sse"), with: &reader, pieceSize: 13)
        let calls = chunks.compactMap { $0.choices.first?.delta.tool_calls?.first }
        #expect(calls.first?.id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6")
        #expect(calls.first?.function.name == "get_weather")
        #expect(calls.allSatisfy { $0.index == 0 })
        #expect(calls.compactMap(\.function.arguments).joined() == #"{"location": "San Francisco, CA"}"#)
        #expect(chunks.compactMap { $0.choices.first?.delta.reasoning_content }.joined() == "Need the weather.")
        #expect(
            chunks.compactMap { $0.choices.first?.delta.thinking_blocks?.first?["signature"] }
                == [.string("EqQBCgIYAhIM1gbcDa9GJwZA2b3h")]
        )
        #expect(chunks.compactMap { $0.choices.first?.finish_reason } == ["tool_calls"])
        #expect(chunks.last?.usage?.completion_tokens == 89)
    }

    @Test("An error event in the stream is a retryable server error; a stream cut short is a broken connection")
    func streamFailures() throws {
        var overloaded = self.translator.makeStreamReader(upstreamModel: "m")
        let error = try #require(throws: ProviderError.self) {
            try readAll(try fixture("anthropic/stream-overloaded.sse"), with: &overloaded, pieceSize: 64)
        }
        #expect(error.kind == .server)
        #expect(error.message.contains("Overloaded"))

        let text = try fixture("anthropic/stream-text.sse")
        var truncated = self.translator.makeStreamReader(upstreamModel: "m")
        let cut = try #require(throws: ProviderError.self) {
            try readAll(Array(text.prefix(text.count / 2)), with: &truncated, pieceSize: 64)
        }
        #expect(cut.kind == .connection)

        var garbage = self.translator.makeStreamReader(upstreamModel: "m")
        #expect(throws: ProviderError.self) {
            try readAll(Array("event: message_start\ndata: {not json\n\n".utf8), with: &garbage, pieceSize: 64)
        }
    }

    @Test("Usage counts beyond what one call can reach, or negative, make the answer malformed")
    func usageOutOfRange() throws {
        for counts in [#""input_tokens": 1000000001, "output_tokens": 1"#, #""input_tokens": 1, "output_tokens": -5"#] {
            let body =
                #"{"id": "m", "model": "x", "content": [], "stop_reason": "end_turn", "usage": {"# + counts + "}}"
            let error = try #require(throws: ProviderError.self) {
                try self.translator.readChatResponse(Array(body.utf8), upstreamModel: "x")
            }
            #expect(error.kind == .invalidResponse)
        }
    }

    @Test("count_tokens goes to Anthropic with the route's model; its count is read back within range")
    func countTokens() throws {
        let body = Array(#"{"model": "public-name", "messages": [{"role": "user", "content": "hi"}]}"#.utf8)
        let request = try self.translator.makeCountTokensRequest(body, upstreamModel: "claude-x")
        #expect(request.url == "https://api.anthropic.com/v1/messages/count_tokens")
        #expect(JSONNode(parsing: request.body)?["model"] == .string("claude-x"))
        #expect(request.headers.contains { $0 == ("anthropic-version", "2023-06-01") })
        #expect(try self.translator.readCountTokens(Array(#"{"input_tokens": 14}"#.utf8)) == 14)
        #expect(throws: ProviderError.self) {
            try self.translator.readCountTokens(Array(#"{"input_tokens": -1}"#.utf8))
        }
    }

    @Test("Anthropic's error body keeps its type and message; 529 is a server error worth retrying")
    func errors() throws {
        let body = try fixture("anthropic/error-invalid-request.json")
        let invalid = self.translator.parseError(status: 400, headers: [], body: body)
        #expect(invalid.kind == .invalidRequest)
        #expect(invalid.message.hasPrefix("invalid_request_error: max_tokens: 100000 > 64000"))
        let overloaded = self.translator.parseError(
            status: 529,
            headers: [("retry-after", "3")],
            body: Array(#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.utf8)
        )
        #expect(overloaded.kind == .server)
        #expect(overloaded.retryAfter == .seconds(3))
    }
}
