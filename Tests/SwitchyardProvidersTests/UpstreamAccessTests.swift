// SPDX-License-Identifier: Apache-2.0

import Testing

@testable import SwitchyardProviders

/// A team's own key replaces exactly the provider's key headers, whatever the dialect calls them.
struct UpstreamAccessTests {
    @Test("An own key replaces the bearer header, or the dialect's own key header, and nothing else")
    func ownKey() {
        let openai = UpstreamAccess(
            baseURL: "http://127.0.0.1:9/v1",
            apiKey: nil,
            apiKeys: ["sk-first", "sk-second"],
            credentials: { [("Authorization", "Bearer \($0)")] },
            extraHeaders: ["x-extra": "1"]
        )
        let request = openai.post("/chat/completions", body: [])
        #expect(request.headers(forKey: 1).contains { $0 == ("Authorization", "Bearer sk-second") })
        let own = request.headers(forKey: 1, ownKey: "sk-team")
        #expect(own.filter { $0.0.lowercased() == "authorization" }.map(\.1) == ["Bearer sk-team"])
        #expect(own.contains { $0 == ("x-extra", "1") })
        #expect(own.contains { $0 == ("content-type", "application/json") })

        let anthropic = UpstreamAccess(
            baseURL: "http://127.0.0.1:9",
            apiKey: "sk-ant-gateway",
            credentials: { [("x-api-key", $0)] }
        )
        let headers = anthropic.post("/v1/messages", body: [], headers: [("anthropic-version", "2023-06-01")])
            .headers(forKey: 0, ownKey: "sk-ant-team")
        #expect(headers.filter { $0.0 == "x-api-key" }.map(\.1) == ["sk-ant-team"])
        #expect(headers.contains { $0 == ("anthropic-version", "2023-06-01") })
    }
}
