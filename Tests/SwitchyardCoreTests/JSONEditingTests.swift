// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing

@testable import SwitchyardCore

struct JSONEditingTests {
    @Test("Finds top-level members and skips nested objects, arrays and escaped strings")
    func scansTopLevelMembers() throws {
        let text =
            #"{ "model" : "gpt-4o", "messages":[{"content":"a \"quoted\" } brace"}], "n":2, "stream":true, "x":null }"#
        let bytes = Array(text.utf8)
        let (members, end) = try JSONObjectScanner.members(of: bytes)
        #expect(Set(members.keys) == ["model", "messages", "n", "stream", "x"])
        #expect(String(decoding: bytes[members["model"]!.value], as: UTF8.self) == #""gpt-4o""#)
        #expect(String(decoding: bytes[members["n"]!.value], as: UTF8.self) == "2")
        #expect(String(decoding: bytes[members["messages"]!.value], as: UTF8.self).hasSuffix(#"brace"}]"#))
        #expect(bytes[end] == UInt8(ascii: "}"))
    }

    @Test("Decodes escaped keys and string values, and refuses broken escapes")
    func decodesEscapes() throws {
        let bytes = Array(#"{"mo\u0064el":"gpt-\"4o\"\n","x":1}"#.utf8)
        let (members, _) = try JSONObjectScanner.members(of: bytes)
        let model = try #require(members["model"])
        #expect(JSONText.decodeString(bytes[model.value]) == "gpt-\"4o\"\n")
        #expect(JSONText.decodeString(ArraySlice(#""\ud800""#.utf8)) == nil)
        #expect(throws: JSONObjectScanner.MalformedJSON.self) {
            try JSONObjectScanner.members(of: Array(#"{"bad\q":1}"#.utf8))
        }
    }

    @Test("Rejects what is not a JSON object", arguments: ["", "[]", #"{"a":1"#, #"{"a" 1}"#, #"{"a":}"#, "nope"])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONObjectScanner.MalformedJSON.self) { try JSONObjectScanner.members(of: Array(text.utf8)) }
    }

    @Test("Replaces one member and appends another, leaving every other byte as it was")
    func editsInPlace() throws {
        var editor = try JSONObjectEditor(Array(#"{"model":"m",  "temperature": 0.70,"stream":true}"#.utf8))
        try editor.set("model", json: JSONText.string("gpt-4o-mini-2024-07-18"))
        try editor.set("stream_options", json: Array(#"{"include_usage":true}"#.utf8))
        #expect(
            String(decoding: editor.bytes, as: UTF8.self)
                == #"{"model":"gpt-4o-mini-2024-07-18",  "temperature": 0.70,"stream":true,"stream_options":{"include_usage":true}}"#
        )
        var empty = try JSONObjectEditor(Array("{}".utf8))
        try empty.set("cost", json: Array("0.5".utf8))
        #expect(String(decoding: empty.bytes, as: UTF8.self) == #"{"cost":0.5}"#)
    }

    @Test("After any sequence of edits the editor reads every member as a fresh scan would")
    func keepsMembersInStep() throws {
        var editor = try JSONObjectEditor(Array(#"{ "a" : 1 , "b":[1,2], "c":"x" }"#.utf8))
        try editor.set("a", json: Array("12345".utf8))
        try editor.set("new", json: Array(#"{"k":true}"#.utf8))
        try editor.set("b", json: Array("0".utf8))
        try editor.set("new", json: Array("null".utf8))
        try editor.set("c", json: JSONText.string("longer value"))
        try editor.set("d", json: Array("[]".utf8))
        let fresh = try JSONObjectEditor(editor.bytes)
        for key in ["a", "b", "c", "new", "d"] {
            #expect(editor.value(key) == fresh.value(key), "member \(key)")
        }
        #expect(
            String(decoding: editor.bytes, as: UTF8.self)
                == #"{ "a" : 12345 , "b":0, "c":"longer value" ,"new":null,"d":[]}"#
        )
    }

    @Test("Escapes strings as JSON requires")
    func escapesStrings() throws {
        let value = "quote\" backslash\\ newline\n tab\t bell\u{07} é"
        let decoded = try JSONDecoder().decode(String.self, from: Data(JSONText.string(value)))
        #expect(decoded == value)
    }

    @Test("Adds the cost to a response's usage and reads cached tokens")
    func annotatesUsage() throws {
        let body = Array(
            #"{"id":"x","usage":{"prompt_tokens":1000,"completion_tokens":500,"prompt_tokens_details":{"cached_tokens":400}}}"#
                .utf8
        )
        let result = try UsageAnnotator.annotate(
            body: body,
            pricing: Pricing(input: 0.15, cachedInput: 0.075, output: 0.60)
        )
        #expect(result.usage == TokenUsage(inputTokens: 1000, cachedInputTokens: 400, outputTokens: 500))
        // 600 × 0.15 + 400 × 0.075 + 500 × 0.60 = 420 micro-dollars.
        #expect(result.cost.map { abs($0 - 0.00042) < 1e-15 } == true)
        #expect(String(decoding: result.body, as: UTF8.self).contains(#""cached_tokens":400},"cost":0.00042}"#))
        let unpriced = try UsageAnnotator.annotate(body: body, pricing: nil)
        #expect(unpriced.cost == nil)
        #expect(unpriced.body == body)
    }
}

struct CostTests {
    @Test(
        "Formats costs in plain decimal notation",
        arguments: [
            (0.0000435, "0.0000435"), (0, "0"), (1.5, "1.5"), (0.00000001, "0.00000001"), (12.0, "12"), (1e-12, "0"),
        ]
    )
    func formatsPlainDecimal(_ value: Double, _ expected: String) {
        #expect(CostFormat.plainDecimal(value) == expected)
    }

    @Test("Prices cached input at the cached rate, or at the input rate when there is none")
    func pricesCachedInput() {
        let usage = TokenUsage(inputTokens: 1_000_000, cachedInputTokens: 500_000, outputTokens: 1_000_000)
        #expect(Pricing(input: 2, cachedInput: 1, output: 8).cost(of: usage) == 2 * 0.5 + 1 * 0.5 + 8)
        #expect(Pricing(input: 2, output: 8).cost(of: usage) == 2 + 8)
    }
}

struct SSETests {
    @Test("Splits events however the bytes are chunked, CRLF and comments included")
    func decodesAcrossChunks() throws {
        let stream =
            "data: {\"a\":1}\n\n: keep-alive\n\nevent: message_delta\r\ndata: {\"b\":\r\ndata: 2}\r\n\r\ndata: [DONE]\n\n"
        var whole = SSEDecoder()
        let expected = try whole.feed(Array(stream.utf8))
        #expect(expected.map { String(decoding: $0.data, as: UTF8.self) } == [#"{"a":1}"#, "{\"b\":\n2}", "[DONE]"])
        #expect(expected[1].name == "message_delta")
        for size in [1, 2, 3, 7, 13] {
            var decoder = SSEDecoder()
            var events: [ServerSentEvent] = []
            var index = stream.utf8.startIndex
            while index < stream.utf8.endIndex {
                let end =
                    stream.utf8.index(index, offsetBy: size, limitedBy: stream.utf8.endIndex) ?? stream.utf8.endIndex
                events += try decoder.feed(Array(stream.utf8[index..<end]))
                index = end
            }
            #expect(events == expected, "chunk size \(size)")
        }
    }

    @Test("Refuses an event that grows beyond the limit, however it is chunked, and accepts one just under it")
    func refusesOversizedEvents() throws {
        var decoder = SSEDecoder(maxEventBytes: 1000)
        _ = try decoder.feed(Array("data: ".utf8))
        #expect(throws: SSEDecoder.EventTooLarge(limit: 1000)) {
            for _ in 0..<20 { _ = try decoder.feed([UInt8](repeating: UInt8(ascii: "x"), count: 100)) }
        }
        var fits = SSEDecoder(maxEventBytes: 1000)
        let event = "data: " + String(repeating: "y", count: 990) + "\n\n"
        let events = try fits.feed(Array(event.utf8) + Array("data: z\n\n".utf8))
        #expect(events.map(\.data.count) == [990, 1])
    }

    @Test("Searches each byte for an event end a bounded number of times, whatever the chunking")
    func staysLinear() throws {
        // One large event in one-byte chunks: with a rescan per chunk this is quadratic (~10^10 steps).
        var decoder = SSEDecoder()
        let payload = Array(("data: " + String(repeating: "a", count: 200_000) + "\n\n").utf8)
        var events: [ServerSentEvent] = []
        for byte in payload { events += try decoder.feed(CollectionOfOne(byte)) }
        #expect(events.count == 1 && events[0].data.count == 200_000)
        // Each byte is searched at most three times (the two-byte step back at each chunk).
        #expect(decoder.bytesSearched <= 3 * payload.count)
    }
}

/// Removing members keeps the object well formed, whatever its position and repetitions.
struct JSONRemovalTests {
    @Test(
        "remove takes the member and one separating comma",
        arguments: [
            (#"{"a":1,"provider":{"x":[1,2]},"b":2}"#, #"{"a":1,"b":2}"#),
            (#"{"provider":null,"a":1}"#, #"{"a":1}"#),
            (#"{"a":1, "provider" : 2 }"#, #"{"a":1 }"#),
            (#"{"provider":1}"#, #"{}"#),
        ]
    )
    func remove(input: String, expected: String) throws {
        var editor = try JSONObjectEditor(Array(input.utf8))
        try editor.remove("provider")
        #expect(String(decoding: editor.bytes, as: UTF8.self) == expected)
        try editor.remove("provider")
        #expect(String(decoding: editor.bytes, as: UTF8.self) == expected)
    }

    @Test("A request's `provider` member never goes upstream, even repeated")
    func requestDropsPreferences() throws {
        let body =
            #"{"model":"m","provider":{"sort":"price"},"messages":[{"role":"user","content":"hi"}],"provider":{"order":["a"]}}"#
        let request = try ChatRequest(body: Array(body.utf8))
        #expect(request.preferences?.order == ["a"])
        let members = try JSONObjectScanner.members(of: request.body).members
        #expect(members["provider"] == nil)
        #expect(Set(members.keys) == ["model", "messages"])
    }
}
