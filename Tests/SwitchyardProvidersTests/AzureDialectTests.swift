// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import SwitchyardCore
import SwitchyardProviders
import Testing

struct AzureDialectTests {
    func provider(_ yaml: String) throws -> OpenAICompatibleProvider {
        let configuration = try GatewayConfiguration.load(yaml: yaml, environment: [:])
        let section = try #require(configuration.providers["az"])
        let made = try ProviderRegistry.makeProvider(
            name: "az",
            configuration: section,
            transport: HTTPTransport(),
            environment: [:]
        )
        return try #require(made as? OpenAICompatibleProvider)
    }

    @Test("Requests go to the deployment URL with api-version, the key in api-key, the body passed through")
    func deploymentURL() throws {
        let azure = try self.provider(
            """
            providers:
              az: {type: azure, base_url: "https://contoso.openai.azure.com/", api_key: az-key, api_version: 2025-04-01-preview}
            """
        )
        let body = #"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#
        let upstream = try azure.adapter.makeChatRequest(
            try ChatRequest(body: Array(body.utf8)),
            upstreamModel: "prod 4o"
        )
        #expect(
            upstream.url
                == "https://contoso.openai.azure.com/openai/deployments/prod%204o/chat/completions?api-version=2025-04-01-preview"
        )
        #expect(upstream.headers.contains { $0 == ("api-key", "az-key") })
        #expect(!upstream.headers.contains { $0.0 == "authorization" })
        let embeddings = try azure.adapter.makeEmbeddingsRequest(
            try EmbeddingsRequest(body: Array(#"{"model": "e", "input": "x"}"#.utf8)),
            upstreamModel: "emb"
        )
        #expect(embeddings.url.hasSuffix("/openai/deployments/emb/embeddings?api-version=2025-04-01-preview"))
    }

    @Test("api_version defaults to the GA version; a malformed one, or a missing endpoint, is a config error")
    func configuration() throws {
        let plain = try self.provider(
            "providers:\n  az: {type: azure, base_url: 'https://x.openai.azure.com', api_key: k}"
        )
        let request = try plain.adapter.makeChatRequest(
            try ChatRequest(body: Array(#"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#.utf8)),
            upstreamModel: "d"
        )
        #expect(request.url.hasSuffix("?api-version=\(AzureDialect.defaultAPIVersion)"))

        let bad = try #require(throws: ConfigurationError.self) {
            try GatewayConfiguration.load(
                yaml: "providers:\n  az: {type: azure, base_url: 'https://x', api_version: '2024&x=1'}",
                environment: [:]
            )
        }
        #expect(bad.message.contains("`providers.az.api_version`"))
        let long = String(repeating: "1", count: 65)
        #expect(throws: ConfigurationError.self) {
            try GatewayConfiguration.load(
                yaml: "providers:\n  az: {type: azure, base_url: 'https://x', api_version: '\(long)'}",
                environment: [:]
            )
        }
        let foreign = try #require(throws: ConfigurationError.self) {
            try GatewayConfiguration.load(yaml: "providers:\n  o: {type: openai, api_version: v}", environment: [:])
        }
        #expect(foreign.message.contains("applies to `type: azure` only"))
        #expect(throws: ConfigurationError.self) {
            try self.provider("providers:\n  az: {type: azure, api_key: k}")
        }
    }

    @Test("The embedded default adds azure from AZURE_OPENAI_API_KEY and AZURE_OPENAI_ENDPOINT")
    func environment() throws {
        let none = GatewayConfiguration.embeddedDefault(environment: ["AZURE_OPENAI_API_KEY": "k"])
        #expect(none.providers["azure"] == nil)
        let set = GatewayConfiguration.embeddedDefault(environment: [
            "AZURE_OPENAI_API_KEY": "k", "AZURE_OPENAI_ENDPOINT": "https://c.openai.azure.com",
            "OPENAI_API_VERSION": "2025-01-01-preview",
        ])
        let azure = try #require(set.providers["azure"])
        #expect(azure.type == "azure" && azure.baseURL == "https://c.openai.azure.com")
        #expect((azure.settings as? AzureDialect.Settings)?.apiVersion == "2025-01-01-preview")
    }
}
