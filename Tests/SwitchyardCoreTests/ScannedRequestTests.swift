// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing

@testable import SwitchyardCore

/// The hot-path reader of chat bodies must agree with `JSONDecoder` wherever it answers.
struct ScannedRequestTests {
    static let wellTyped: [String] = [
        #"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"temperature":0.2,"max_tokens":64,"user":"u1"}"#,
        #"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}],"stream":true,"stream_options":{"include_usage":true}}"#,
        #"{"model":"m","messages":[{"role":"user","content":"w\u00e9ather \ud83c\udf26 \"quoted\"\n"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"get_weather"}}}"#,
        #"{"model":"m","messages":[{"role":"assistant","content":null},{"role":"tool","content":"42"}],"tool_choice":"auto","stop":["\n","END"],"n":2,"seed":-7,"top_p":1e-1,"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}"#,
        #" { "model" : "m" , "messages" : [ { "role" : "user" , "content" : "" } ] , "stop" : "x" , "logprobs" : false , "top_logprobs" : 0 , "parallel_tool_calls" : true , "max_completion_tokens" : 10 , "presence_penalty" : -0.5 , "frequency_penalty" : 0 } "#,
        #"{"model":"m","messages":[],"stream_options":null,"unknown":{"deep":[1,2,{"x":null}]}}"#,
    ]

    /// Bodies the decoder rejects or might read differently: the scan must step aside for all of them.
    static let declined: [String] = [
        "", "   ", "[]", "null", #"{"model":"m","messages":[{"role":"user","content":"hi"}],}"#,
        #"{"model":"m","messages":[{"content":"no role"}]}"#, #"{"model":1,"messages":[]}"#,
        #"{"model":"m","messages":{}}"#, #"{"model":"m","messages":[],"max_tokens":"10"}"#,
        #"{"model":"m","messages":[],"max_tokens":10.5}"#, #"{"model":"m","messages":[],"stream":"yes"}"#,
        #"{"model":"m","messages":[{"role":"user","content":{"text":"object"}}]}"#,
        #"{"model":"m","messages":[],"tools":[{"function":{"name":"no type"}}]}"#,
        #"{"model":"m","messages":[],"stop":[1]}"#, #"{"model":"m","messages":[],"response_format":{}}"#,
        #"{"model":"m","messages":[],"temperature":1e999}"#, #"{"model":"m" "messages":[]}"#,
        #"{"model":"m\x","messages":[]}"#, #"{"model":"\ud800","messages":[]}"#,
    ]

    static func decoded(_ body: String) -> ChatRequest.Wire? {
        try? JSONDecoder().decode(ChatRequest.Wire.self, from: Data(body.utf8))
    }

    @Test("Reads well-typed bodies exactly as JSONDecoder does", arguments: wellTyped)
    func readsLikeTheDecoder(body: String) throws {
        let scanned = try #require(ChatRequest.Wire(scanning: Array(body.utf8)))
        #expect(scanned == Self.decoded(body))
    }

    @Test("Steps aside for bodies the decoder must judge", arguments: declined)
    func declines(body: String) {
        #expect(ChatRequest.Wire(scanning: Array(body.utf8)) == nil)
    }

    @Test("The benchmark's request takes the scanned path")
    func readsBenchmarkBody() throws {
        let body = Array(
            #"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a terse logistics assistant."},{"role":"user","content":"Summarize: 60 pallets"}],"temperature":0.2,"max_tokens":128,"user":"bench"}"#
                .utf8
        )
        let request = try ChatRequest(body: body)
        #expect(ChatRequest.Wire(scanning: body) != nil)
        #expect(request.model == "gpt-4o-mini")
        #expect(request.maxOutputTokens == 128)
        #expect(request.lastUserText == "Summarize: 60 pallets")
    }

    @Test(
        "Accepts RFC 8259 JSON, which Foundation also accepts, and nothing else",
        arguments: [
            ("0", true), ("-0", true), ("1.5e+3", true), ("-12.25E-2", true), ("01", false), ("1.", false),
            (".5", false), ("+1", false), ("-", false), ("1e", false), ("true", true), ("tru", false), ("nul", false),
            ("\"\\u0041\"", true), ("\"\\u00\"", false), ("\"\\x\"", false), ("\"tab\there\"", false),
            ("\"\\ud83c\\udf26\"", true), ("\"\\udf26\"", false), ("[1,]", false), ("[,1]", false), ("[]", true),
            ("{}", true), ("{\"a\":1,\"a\":2}", true), ("{\"a\" 1}", false), ("{1:2}", false), ("[1 2]", false),
            (" [ true , false , null ] ", true), ("\"é\"", true), ("[\"a\"]x", false),
        ]
    )
    func validatesStrictly(text: String, valid: Bool) {
        #expect((JSONValue.parse(Array(text.utf8)) != nil) == valid)
        if valid {
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil)
        }
    }

    @Test("Rejects invalid UTF-8 and nesting deeper than 512")
    func rejectsMalformedBytes() {
        #expect(JSONValue.parse([UInt8(ascii: "\""), 0xC3, 0x28, UInt8(ascii: "\"")]) == nil)
        #expect(
            JSONValue.parse(Array((String(repeating: "[", count: 600) + String(repeating: "]", count: 600)).utf8))
                == nil
        )
        #expect(
            JSONValue.parse(Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8))
                != nil
        )
    }
}
