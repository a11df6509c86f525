// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import SwitchyardCore
import SwitchyardProviders
import Testing

struct GeminiTranslationTests {
    let translator = GeminiTranslator(
        baseURL: "https://generativelanguage.googleapis.com/v1beta",
        apiKey: "AIza-test"
    )
    let route = Route(provider: SimulatorProvider(name: "gemini", settings: .init()), upstreamModel: "gemini-2.5-flash")

    @Test(
        "An OpenAI request becomes generateContent: system, images, calls and results, tool choice, structured output"
    )
    func translatesRequest() throws {
        let request = try OpenAIChat.Request(body: try fixture("gemini/request-tools.openai.json"))
        let upstream = try self.translator.makeChatRequest(request, route: self.route)
        #expect(
            upstream.url
                == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
        )
        #expect(upstream.headers.contains { $0 == ("x-goog-api-key", "AIza-test") })
        #expect(!upstream.headers.contains { $0.0 == "authorization" })
        let sent = try #require(JSONNode(parsing: upstream.body))
        #expect(sent == JSONNode(parsing: try fixture("gemini/request-tools.gemini.json")))
    }

    @Test("A stream request goes to streamGenerateContent with alt=sse")
    func streamURL() throws {
        var request = OpenAIChat.Request(model: "m", messages: [.init(role: "user", content: .text("hi"))])
        request.stream = true
        let upstream = try self.translator.makeChatRequest(request, route: self.route)
        #expect(upstream.url.hasSuffix("/models/gemini-2.5-flash:streamGenerateContent?alt=sse"))
    }

    @Test(
        "What Gemini cannot express is a 400 naming the parameter",
        arguments: [
            (#""logprobs": true"#, "logprobs"), (#""logit_bias": {"1": 2}"#, "logit_bias"),
            (#""parallel_tool_calls": false"#, "parallel_tool_calls"),
            (#""reasoning_effort": "max""#, "reasoning_effort"),
        ]
    )
    func refuses(member: String, parameter: String) throws {
        let body = #"{"model": "m", "messages": [{"role": "user", "content": "hi"}], "# + member + "}"
        let error = try #require(throws: ProviderError.self) {
            try GeminiTranslator.translate(try OpenAIChat.Request(body: Array(body.utf8)))
        }
        #expect(error.kind == .unsupported && error.message.contains("`\(parameter)`"))
    }

    @Test("A tool result for no earlier call is a 400 naming the message")
    func orphanToolResult() throws {
        let body =
            #"{"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "x", "content": "1"}]}"#
        let error = try #require(throws: ProviderError.self) {
            try GeminiTranslator.translate(try OpenAIChat.Request(body: Array(body.utf8)))
        }
        #expect(error.message.contains("`messages[1].tool_call_id`"))
    }

    @Test("A generateContent answer becomes a completion: thoughts as reasoning, calls, usage with thinking")
    func readsResponse() throws {
        let response = try self.translator.readChatResponse(
            try fixture("gemini/response-function-call.json"),
            upstreamModel: "gemini-2.5-flash"
        )
        let choice = try #require(response.choices.first)
        #expect(choice.finish_reason == "tool_calls")
        #expect(choice.message.content == .text("Checking. "))
        #expect(choice.message.reasoning_content == "The user wants the weather.")
        let call = try #require(choice.message.tool_calls?.first)
        #expect(call.function.name == "get_weather")
        #expect(
            JSONNode(parsing: Array(call.function.arguments.utf8))
                == .object(["location": .string("Paris"), "unit": .string("celsius")])
        )
        let usage = try #require(response.usage)
        #expect(usage.prompt_tokens == 120 && usage.prompt_tokens_details?.cached_tokens == 100)
        #expect(usage.completion_tokens == 70 && usage.completion_tokens_details?.reasoning_tokens == 40)
        #expect(response.model == "gemini-2.5-flash")
    }

    @Test("A thought signature rides in the tool call id and goes back on the function call part")
    func thoughtSignatures() throws {
        let answer = """
            {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "AbC+/x=="}]},
              "finishReason": "STOP", "index": 0}], "modelVersion": "gemini-3-flash-preview"}
            """
        let response = try self.translator.readChatResponse(Array(answer.utf8), upstreamModel: "m")
        let call = try #require(response.choices.first?.message.tool_calls?.first)
        #expect(call.id == "call_0__ts_AbC-_x")
        #expect(call.id.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" })

        var request = OpenAIChat.Request(model: "m", messages: [.init(role: "user", content: .text("q"))])
        request.messages.append(OpenAIChat.Message(role: "assistant", tool_calls: [call]))
        request.messages.append(OpenAIChat.Message(role: "tool", content: .text("r"), tool_call_id: call.id))
        let sent = try GeminiTranslator.translate(request)
        #expect(sent.contents[1].parts.first?.thoughtSignature == "AbC+/x==")
        #expect(sent.contents[2].parts.first?.functionResponse?.name == "f")
    }

    @Test("Usage counts beyond what one call can reach make the answer malformed")
    func usageOutOfRange() throws {
        let body =
            #"{"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 1000000001}}"#
        let error = try #require(throws: ProviderError.self) {
            try self.translator.readChatResponse(Array(body.utf8), upstreamModel: "m")
        }
        #expect(error.kind == .invalidResponse)
    }

    @Test("A blocked prompt is an empty answer finished by content_filter")
    func blockedPrompt() throws {
        let response = try self.translator.readChatResponse(
            try fixture("gemini/response-blocked.json"),
            upstreamModel: "m"
        )
        #expect(response.choices.map(\.finish_reason) == ["content_filter"])
        #expect(response.usage?.prompt_tokens == 8)
    }

    @Test(
        "A text stream becomes chunks and a usage chunk; safety ends it with content_filter",
        arguments: [1, 11, 9999]
    )
    func readsStreams(pieceSize: Int) throws {
        var reader = self.translator.makeStreamReader(upstreamModel: "m")
        let chunks = try readAll(try fixture("gemini/stream-text.sse"), with: &reader, pieceSize: pieceSize)
        #expect(chunks.first?.choices.first?.delta.role == "assistant")
        #expect(chunks.compactMap { $0.choices.first?.delta.content }.joined() == "Hello there!")
        #expect(chunks.compactMap { $0.choices.first?.finish_reason } == ["stop"])
        #expect(chunks.allSatisfy { $0.id == "chatcmpl-abc123" })
        #expect(chunks.last?.usage?.completion_tokens == 8)
        #expect(chunks.last?.usage?.completion_tokens_details?.reasoning_tokens == 5)

        var safety = self.translator.makeStreamReader(upstreamModel: "m")
        let blocked = try readAll(try fixture("gemini/stream-safety.sse"), with: &safety, pieceSize: pieceSize)
        #expect(blocked.compactMap { $0.choices.first?.finish_reason } == ["content_filter"])
    }

    @Test("A stream without a finishReason was cut short; a non-JSON event is malformed")
    func streamFailures() throws {
        let text = try fixture("gemini/stream-text.sse")
        let firstEvent = Array(text[..<(text.firstRange(of: Array("\n\n".utf8))?.upperBound ?? text.endIndex)])
        var truncated = self.translator.makeStreamReader(upstreamModel: "m")
        let cut = try #require(throws: ProviderError.self) { try readAll(firstEvent, with: &truncated, pieceSize: 64) }
        #expect(cut.kind == .connection)
        var garbage = self.translator.makeStreamReader(upstreamModel: "m")
        let bad = try #require(throws: ProviderError.self) {
            try readAll(Array("data: [1, 2\n\n".utf8), with: &garbage, pieceSize: 64)
        }
        #expect(bad.kind == .invalidResponse)
    }

    @Test("Gemini's error body keeps its status and message")
    func errors() throws {
        let error = self.translator.parseError(
            status: 400,
            headers: [],
            body: try fixture("gemini/error-invalid-argument.json")
        )
        #expect(error.kind == .invalidRequest)
        #expect(error.message == "INVALID_ARGUMENT: API key not valid. Please pass a valid API key.")
    }

    @Test("Embeddings go to batchEmbedContents and come back in OpenAI's list, as floats or base64")
    func embeddings() throws {
        let request = try EmbeddingsRequest(
            body: Array(#"{"model": "text-embedding-004", "input": ["a", "bb"], "dimensions": 3}"#.utf8)
        )
        let upstream = try #require(
            try self.translator.makeEmbeddingsRequest(request, upstreamModel: "text-embedding-004")
        )
        #expect(upstream.url.hasSuffix("/models/text-embedding-004:batchEmbedContents"))
        let sent = try #require(JSONNode(parsing: upstream.body))
        guard case .array(let items)? = sent["requests"] else {
            Issue.record("no requests array")
            return
        }
        #expect(items.count == 2)
        #expect(items[1]["content"]?["parts"] == .array([.object(["text": .string("bb")])]))
        #expect(items[0]["outputDimensionality"] == .number(3))
        #expect(items[0]["model"] == .string("models/text-embedding-004"))

        let answer = try self.translator.readEmbeddingsResponse(
            try fixture("gemini/embeddings-response.json"),
            request: request,
            upstreamModel: "text-embedding-004"
        )
        let list = try #require(JSONNode(parsing: answer))
        #expect(list["object"] == .string("list"))
        guard case .array(let data)? = list["data"] else {
            Issue.record("no data array")
            return
        }
        #expect(data[0]["embedding"] == .array([.number(0.25), .number(-0.5), .number(0.125)]))
        #expect(data[1]["index"] == .number(1))

        let mismatched = Array(#"{"embeddings": [{"values": [1]}]}"#.utf8)
        #expect(throws: ProviderError.self) {
            try self.translator.readEmbeddingsResponse(mismatched, request: request, upstreamModel: "m")
        }
    }
}
