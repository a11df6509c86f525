// SPDX-License-Identifier: Apache-2.0

import Testing

@testable import SwitchyardProviders

/// Which proxy a provider's calls use: its own `proxy:`, or `HTTP(S)_PROXY` unless `NO_PROXY` covers the host.
struct UpstreamProxyTests {
    @Test("Parses proxy URLs with and without credentials; refuses what it cannot tunnel through")
    func parsesProxyURLs() throws {
        let plain = try #require(UpstreamProxy(url: "http://proxy.internal:3128"))
        #expect(plain.host == "proxy.internal" && plain.port == 3128 && plain.authorization == nil)
        let credentialed = try #require(UpstreamProxy(url: "http://us%40er:p%3Ass@10.0.0.1:8080/"))
        #expect(credentialed.host == "10.0.0.1" && credentialed.port == 8080)
        // base64("us@er:p:ss")
        #expect(credentialed.authorization == "Basic dXNAZXI6cDpzcw==")
        #expect(credentialed.description == "10.0.0.1:8080")
        #expect(UpstreamProxy(url: "http://proxy")?.port == 80)
        #expect(UpstreamProxy(url: "https://proxy:443") == nil)
        #expect(UpstreamProxy(url: "socks5://proxy:1080") == nil)
        #expect(UpstreamProxy(url: "http://") == nil)
    }

    @Test("Follows HTTPS_PROXY or HTTP_PROXY by the upstream's scheme, in either case, unless NO_PROXY matches")
    func resolvesFromTheEnvironment() {
        let environment = [
            "HTTPS_PROXY": "http://secure:1", "http_proxy": "http://plain:2",
            "NO_PROXY": "internal.example, .corp.example:8443,10.1.2.3",
        ]
        func proxy(_ url: String, _ setting: ProxySetting = .environment) -> String? {
            setting.proxy(for: url, environment: environment)?.description
        }
        #expect(proxy("https://api.openai.com/v1") == "secure:1")
        #expect(proxy("http://vllm.lan:8000/v1") == "plain:2")
        #expect(proxy("https://internal.example/v1") == nil)
        #expect(proxy("https://api.internal.example/v1") == nil)
        #expect(proxy("https://corp.example:8443/v1") == nil)
        #expect(proxy("https://a.corp.example:8443/v1") == nil)
        #expect(proxy("https://a.corp.example/v1") == "secure:1")  // the entry names port 8443 only
        #expect(proxy("http://10.1.2.3:8000/v1") == nil)
        #expect(proxy("https://notinternal.example/v1") == "secure:1")
        #expect(proxy("https://api.openai.com/v1", .direct) == nil)
        #expect(proxy("https://internal.example/v1", .proxy(UpstreamProxy(url: "http://mine:9")!)) == "mine:9")
        #expect(
            ProxySetting.environment.proxy(
                for: "https://x/v1",
                environment: ["NO_PROXY": "*", "HTTPS_PROXY": "http://p:1"]
            ) == nil
        )
        #expect(ProxySetting(configured: "none") == .direct)
        #expect(ProxySetting(configured: nil) == .environment)
        #expect(ProxySetting(configured: "https://p:1") == nil)
    }
}
