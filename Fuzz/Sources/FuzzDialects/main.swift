// SPDX-License-Identifier: Apache-2.0

import NIOCore
import SwitchyardCore
import SwitchyardProviders

/// Feeds arbitrary bytes to the decoders of the translated dialects.
///
/// The first byte picks the decoder, the second where the input is split into two network chunks:
/// Anthropic's stream reader, answer and error readers, the inbound `/v1/messages` body translation
/// and event writer; Gemini's stream reader, answer, error and embeddings readers; Bedrock's binary
/// event-stream decoder (with a small message limit, so the refusal path runs too), stream reader,
/// answer and error readers; and a client's chat body read by the typed request reader (tree first,
/// JSONDecoder after) then translated for Anthropic, Gemini (thought signatures in tool call ids
/// included) and Bedrock. Any input may be refused; none may trap, hang or grow without bound.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard bytes.count >= 2 else { return 0 }
    let input = Array(bytes.dropFirst(2))
    let split = Int(bytes[1]) % (input.count + 1)
    let translator = AnthropicTranslator(baseURL: "http://127.0.0.1:9/v1", apiKey: nil)
    let gemini = GeminiTranslator(baseURL: "http://127.0.0.1:9/v1beta", apiKey: nil)
    let bedrock = BedrockTranslator(
        access: UpstreamAccess(baseURL: "http://127.0.0.1:9", apiKey: nil, credentials: { _ in [] }),
        signer: nil
    )
    switch bytes[0] % 9 {
    case 0:
        var reader = translator.makeStreamReader(upstreamModel: "m")
        _ = try? reader.read(ByteBuffer(bytes: input[..<split]))
        _ = try? reader.read(ByteBuffer(bytes: input[split...]))
        _ = try? reader.finish()
    case 1:
        _ = try? translator.readChatResponse(input, upstreamModel: "m")
        _ = translator.parseError(status: 400, headers: [("retry-after", "1")], body: input)
    case 2:
        if let body = try? AnthropicInbound.chatBody(fromMessages: input).body {
            _ = try? ChatRequest(body: body)
        }
    case 4:
        var reader = gemini.makeStreamReader(upstreamModel: "m")
        _ = try? reader.read(ByteBuffer(bytes: input[..<split]))
        _ = try? reader.read(ByteBuffer(bytes: input[split...]))
        _ = try? reader.finish()
    case 5:
        _ = try? gemini.readChatResponse(input, upstreamModel: "m")
        _ = gemini.parseError(status: 400, headers: [], body: input)
        if let request = try? EmbeddingsRequest(body: Array(#"{"model": "m", "input": ["a", "b"]}"#.utf8)) {
            _ = try? gemini.readEmbeddingsResponse(input, request: request, upstreamModel: "m")
        }
    case 6:
        var decoder = AWSEventStreamDecoder(maxMessageBytes: 256)
        _ = try? decoder.feed(input[..<split])
        _ = try? decoder.feed(input[split...])
        var reader = bedrock.makeStreamReader(upstreamModel: "m")
        _ = try? reader.read(ByteBuffer(bytes: input[..<split]))
        _ = try? reader.read(ByteBuffer(bytes: input[split...]))
        _ = try? reader.finish()
    case 8:
        if (try? ChatRequest(body: input)) != nil, let request = try? OpenAIChat.Request(body: input) {
            _ = try? AnthropicTranslator.translate(request, upstreamModel: "m", routeMaxOutput: 4096)
            _ = try? GeminiTranslator.translate(request)
            _ = try? BedrockTranslator.translate(request, upstreamModel: "anthropic.m")
        }
    case 7:
        _ = try? bedrock.readChatResponse(input, upstreamModel: "m")
        _ = bedrock.parseError(status: 400, headers: [("x-amzn-ErrorType", "ValidationException:x")], body: input)
    default:
        var writer = AnthropicEventWriter(model: "m")
        _ = try? writer.translate(ByteBuffer(bytes: input[..<split]))
        _ = try? writer.translate(ByteBuffer(bytes: input[split...]))
        _ = try? AnthropicInbound.messagesBody(fromChatCompletion: input)
    }
    return 0
}
