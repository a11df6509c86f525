// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing

@testable import SwitchyardCore

struct OpenAIChatTests {
    static let bodies = [
        #"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#,
        #"{"model": "m", "stream": true, "max_tokens": 5, "temperature": 0.2, "top_p": 1, "n": 1, "seed": 42, "user": "u", "messages": [{"role": "system", "content": null}, {"role": "user", "content": [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA==", "detail": "low"}}]}]}"#,
        #"{"model": "m", "reasoning_effort": "low", "messages": [{"role": "assistant", "content": null, "reasoning_content": "r", "thinking_blocks": [{"type": "thinking", "signature": "s"}], "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "t", "name": "f", "content": "x"}]}"#,
    ]

    @Test("The tree reader gives what JSONDecoder gives", arguments: bodies)
    func readerAgreesWithDecoder(body: String) throws {
        let bytes = Array(body.utf8)
        let node = try #require(JSONNode(parsing: bytes))
        let read = try #require(OpenAIChat.Request(node: node))
        let decoded = try JSONDecoder().decode(OpenAIChat.Request.self, from: Data(bytes))
        #expect(read == decoded)
    }

    @Test(
        "Rarer members and unexpected types send the request to JSONDecoder, which reads them",
        arguments: [
            #"{"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f"}}]}"#,
            #"{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": "END"}"#,
            #"{"model": "m", "messages": [{"role": "user", "content": 5}]}"#,
            #"{"model": "m", "seed": 1e300, "messages": [{"role": "user", "content": "hi"}]}"#,
        ]
    )
    func fallsBack(body: String) throws {
        let node = try #require(JSONNode(parsing: Array(body.utf8)))
        #expect(OpenAIChat.Request(node: node) == nil)
    }

    @Test("The public initialiser reads both ways: the stop sequence arrives through the fallback")
    func publicInit() throws {
        let request = try OpenAIChat.Request(
            body: Array(#"{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": "END"}"#.utf8)
        )
        #expect(request.stop?.sequences == ["END"])
    }
}
