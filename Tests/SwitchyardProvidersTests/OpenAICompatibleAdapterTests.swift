// SPDX-License-Identifier: Apache-2.0

import SwitchyardCore
import Testing

@testable import SwitchyardProviders

/// How the OpenAI-compatible adapter reads a failed answer: status, message and the real Retry-After parser.
struct OpenAICompatibleAdapterTests {
    let adapter = OpenAICompatibleAdapter(baseURL: "http://127.0.0.1:1/v1", apiKey: "sk-x")

    @Test("A 429 with Retry-After waits that long; the provider's own message is kept")
    func readsRetryAfter() {
        let error = self.adapter.parseError(
            status: 429,
            headers: [("Retry-After", "3")],
            body: Array(#"{"error":{"message":"Rate limit reached for gpt-4o"}}"#.utf8)
        )
        #expect(error.kind == .rateLimited && error.retryAfter == .seconds(3))
        #expect(error.message == "Rate limit reached for gpt-4o")
        let precise = self.adapter.parseError(status: 429, headers: [("retry-after-ms", "1500")], body: [])
        #expect(precise.retryAfter == .milliseconds(1500))
    }

    @Test("A 429 whose Retry-After no server means is a malformed answer, not a wait", arguments: ["inf", "nan", "-5"])
    func refusesMalformedRetryAfter(_ value: String) {
        let error = self.adapter.parseError(status: 429, headers: [("retry-after", value)], body: [])
        #expect(error.kind == .invalidResponse && error.status == 429 && error.retryAfter == nil)
        #expect(!error.isRetryable)
        #expect(error.message.contains("malformed"))
    }

    @Test("An upstream error body nested past 512 levels is quoted, never given to JSONDecoder")
    func survivesDeepErrorBodies() {
        let body = Array(#"{"error":"#.utf8) + Array(repeating: UInt8(ascii: "["), count: 513)
        let error = self.adapter.parseError(status: 500, headers: [], body: body)
        #expect(error.kind == .server && error.message.hasPrefix(#"{"error":[[["#))
    }

    @Test("A body that is not OpenAI's error shape is quoted, cut at 300 bytes")
    func quotesOtherBodies() {
        let error = self.adapter.parseError(
            status: 503,
            headers: [],
            body: Array(String(repeating: "x", count: 1000).utf8)
        )
        #expect(error.kind == .server && error.message.count == 300)
    }
}
