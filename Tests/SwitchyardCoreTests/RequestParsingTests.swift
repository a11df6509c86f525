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
            // Out-of-range values OpenAI documents a range for; each was forwarded unchecked before.
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"n":129}"#, "n"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":-1}"#, "max_tokens"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":4294967296}"#, "max_tokens"),
            (
                #"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":0}"#,
                "max_completion_tokens"
            ),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":-0.1}"#, "temperature"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"top_p":1.5}"#, "top_p"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"presence_penalty":-2.5}"#, "presence_penalty"),
            (
                #"{"model":"m","messages":[{"role":"user","content":"hi"}],"frequency_penalty":2.01}"#,
                "frequency_penalty"
            ),
            (
                #"{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":21}"#,
                "top_logprobs"
            ),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"top_logprobs":2}"#, "top_logprobs"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"seed":1e40}"#, "seed"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1e400}"#, "temperature"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}"#, "stop"),
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

    @Test(
        "Refuses out-of-range embeddings parameters, naming the field",
        arguments: [
            (#"{"model":"e","input":"a","dimensions":-1}"#, "dimensions"),
            (#"{"model":"e","input":"a","dimensions":0}"#, "dimensions"),
            (#"{"model":"e","input":"a","dimensions":16385}"#, "dimensions"),
            (#"{"model":"e","input":"a","dimensions":9223372036854775807}"#, "dimensions"),
            (#"{"model":"e","input":"a","dimensions":1e30}"#, "dimensions"),
        ]
    )
    func refusesEmbeddingRanges(_ body: String, _ field: String) {
        #expect {
            _ = try EmbeddingsRequest(body: Array(body.utf8))
        } throws: { error in
            let error = error as? GatewayError
            return error?.status == .badRequest && error?.param == field && error?.message.contains(field) == true
        }
    }

    @Test("Refuses lists longer than OpenAI accepts before building them")
    func refusesLongLists() {
        let tools = (0...ChatRequest.Limits.tools).map { _ in #"{"type":"function","function":{"name":"f"}}"# }
        let chat =
            #"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":["# + tools.joined(separator: ",") + "]}"
        #expect { try parse(chat) } throws: { ($0 as? GatewayError)?.param == "tools" }
        let messages = Array(repeating: #"{"role":"user"}"#, count: ChatRequest.Limits.messages + 1)
        #expect { try parse(#"{"model":"m","messages":["# + messages.joined(separator: ",") + "]}") } throws: {
            ($0 as? GatewayError)?.param == "messages" && ($0 as? GatewayError)?.code == "array_too_long"
        }
        let texts = Array(repeating: #""a""#, count: EmbeddingsRequest.maxInputs + 1).joined(separator: ",")
        #expect {
            try EmbeddingsRequest(body: Array(#"{"model":"e","input":["#.utf8) + Array(texts.utf8) + Array("]}".utf8))
        } throws: { ($0 as? GatewayError)?.param == "input" }
        let tokenLists = Array(repeating: "[1]", count: EmbeddingsRequest.maxInputs + 1).joined(separator: ",")
        #expect {
            try EmbeddingsRequest(
                body: Array(#"{"model":"e","input":["#.utf8) + Array(tokenLists.utf8) + Array("]}".utf8)
            )
        } throws: { ($0 as? GatewayError)?.param == "input" }
        #expect(throws: Never.self) {
            try EmbeddingsRequest(
                body: Array(#"{"model":"e","input":["#.utf8)
                    + Array(Array(repeating: #""a""#, count: 2048).joined(separator: ",").utf8) + Array("]}".utf8)
            )
        }
    }

    @Test(
        "Reads Retry-After with checked conversions: huge, negative and non-finite values never trap",
        arguments: [
            ([("Retry-After", "2")], RetryAfter.Reading.after(.seconds(2))),
            ([("retry-after", " 1.5 ")], .after(.milliseconds(1500))),
            ([("retry-after-ms", "250"), ("retry-after", "9")], .after(.milliseconds(250))),
            ([("retry-after", "1e300")], .after(RetryAfter.longest)),
            ([("retry-after-ms", "9223372036854775807999")], .after(RetryAfter.longest)),
            // Found by FuzzUpstreamAnswer on the old parser (Int64(Double) traps), kept in Fuzz/Crashes/.
            ([("retry-after", "2e22")], .after(RetryAfter.longest)),
            (
                [("retry-after-ms", String(repeating: "9", count: 69))],
                .after(RetryAfter.longest)
            ),
            ([("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")], .absent),
            ([("x-other", "1")], .absent),
        ]
    )
    func readsRetryAfter(_ headers: [(String, String)], _ expected: RetryAfter.Reading) {
        #expect(RetryAfter.read(headers) == expected)
    }

    @Test(
        "Calls Retry-After values no server means malformed",
        arguments: ["inf", "-inf", "nan", "-1", "infinity", "1e400"]
    )
    func refusesMalformedRetryAfter(_ value: String) {
        guard case .invalid(let reason) = RetryAfter.read([("retry-after", value)]) else {
            Issue.record("`\(value)` was accepted")
            return
        }
        #expect(reason.contains(value))
    }

    @Test("Bodies nested past 512 levels get a 400 instead of reaching JSONDecoder, which traps on them")
    func refusesDeepNesting() throws {
        // Found by FuzzEmbeddingsRequest: JSONDecoder traps when the 513th bracket is the last byte.
        let bodies = [
            String(repeating: "[", count: 513),
            String(repeating: "[\t\t\t\t\t", count: 512) + "[",
            #"{"model":"m","messages":"# + String(repeating: "[", count: 512),
        ]
        for body in bodies {
            #expect { try parse(body) } throws: { ($0 as? GatewayError)?.code == "nesting_too_deep" }
            #expect { try EmbeddingsRequest(body: Array(body.utf8)) } throws: {
                ($0 as? GatewayError)?.code == "nesting_too_deep"
            }
        }
        // Brackets inside strings do not count, and 512 levels are still read.
        let inString =
            #"{"model":"m","messages":[{"role":"user","content":""# + String(repeating: "[", count: 600) + #""}]}"#
        #expect(try parse(inString).lastUserText.count == 600)
        #expect(
            !JSONText.nestsTooDeeply(
                Array((String(repeating: "[", count: 512) + String(repeating: "]", count: 512)).utf8)
            )
        )
    }

    @Test("A usage object with impossible token counts is malformed, not summed")
    func refusesHugeUsage() throws {
        #expect(throws: TokenUsage.OutOfRange.self) {
            try TokenUsage(openAIUsage: Array(#"{"prompt_tokens":999999999999999999,"completion_tokens":1}"#.utf8))
        }
        let usage = try TokenUsage(openAIUsage: Array(#"{"prompt_tokens":10,"completion_tokens":1}"#.utf8))
        #expect(usage.inputTokens == 10 && usage.outputTokens == 1)
    }
}
