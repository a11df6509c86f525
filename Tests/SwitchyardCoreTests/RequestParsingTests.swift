// SPDX-License-Identifier: Apache-2.0

import Testing

@testable import SwitchyardCore

struct RequestParsingTests {
    func parse(_ text: String) throws(GatewayError) -> ChatRequest { try ChatRequest(body: Array(text.utf8)) }

    @Test("Reads what routing needs from a chat request")
    func readsRequirements() throws {
        let request = try parse(
            #"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":99,"n":2,"#
                + #""tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}},"#
                + #""response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}},"#
                + #""messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"what"},{"type":"image_url","image_url":{"url":"u"}}]},{"role":"assistant","content":null,"tool_calls":[]}]}"#
        )
        #expect(request.model == "gpt-4o")
        #expect(request.isStreaming && request.includesUsage)
        #expect(request.maxOutputTokens == 99 && request.maxOutputTokensParameter == "max_completion_tokens")
        #expect(request.choiceCount == 2)
        #expect(request.toolNames == ["f"] && request.toolChoice == "f")
        #expect(
            request.requirements
                == RouteRequirements(
                    streaming: true,
                    tools: true,
                    vision: true,
                    jsonSchema: true,
                    estimatedPromptTokens: 3,
                    maxOutputTokens: 99
                )
        )
        #expect(request.lastUserText == "what")
    }

    @Test(
        "Names the faulty field",
        arguments: [
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":"ten"}"#, "max_tokens"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes"}"#, "stream"),
            (
                #"{"model":"m","messages":[{"role":"user"}],"tools":[{"type":"function","function":{}}]}"#,
                "tools[0].function.name"
            ),
            (#"{"model":"m","messages":[{"content":"hi"}]}"#, "messages[0].role"),
            (#"{"model":7,"messages":[]}"#, "model"),
            (#"{"messages":[{"role":"user","content":"hi"}]}"#, "model"),
            (#"{"model":"m","messages":[]}"#, "messages"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"n":0}"#, "n"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":3}"#, "temperature"),
        ]
    )
    func namesField(_ body: String, _ field: String) {
        #expect {
            _ = try parse(body)
        } throws: { error in
            let error = error as? GatewayError
            return error?.status == .badRequest && error?.param == field && error?.message.contains(field) == true
        }
    }

    @Test("Validates embeddings input")
    func validatesEmbeddings() throws {
        let request = try EmbeddingsRequest(body: Array(#"{"model":"e","input":["a","bb"],"dimensions":8}"#.utf8))
        #expect(request.inputs == ["a", "bb"] && request.dimensions == 8 && request.encodingFormat == "float")
        #expect(throws: GatewayError.self) { try EmbeddingsRequest(body: Array(#"{"model":"e"}"#.utf8)) }
        #expect(throws: GatewayError.self) { try EmbeddingsRequest(body: Array(#"{"model":"e","input":[]}"#.utf8)) }
    }
}
