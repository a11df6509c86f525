// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing

@testable import SwitchyardCore

struct CatalogTests {
    @Test("The bundled catalog covers the major makers with complete facts")
    func coversMakers() throws {
        let catalog = try Catalog.bundled()
        #expect(catalog.models.count >= 40)
        let makers = Set(catalog.models.map(\.ownedBy))
        #expect(
            makers.isSuperset(of: ["openai", "anthropic", "google", "mistral", "deepseek", "meta", "xai", "amazon"])
        )
        #expect(Set(catalog.models.map(\.id)).count == catalog.models.count)
        for model in catalog.models {
            #expect(!model.routes.isEmpty, "\(model.id) has no route")
            #expect(model.contextWindow != nil, "\(model.id) has no context window")
            #expect(model.pricing != nil, "\(model.id) has no prices")
            if model.kind == .chat { #expect(model.maxOutputTokens != nil, "\(model.id) has no max output") }
        }
        let llama = try #require(catalog.model("llama-3.3-70b"))
        #expect(Set(llama.routes.map(\.provider)).isSuperset(of: ["groq", "together"]))
    }

    @Test("gpt-4o-mini is exactly as the specification states")
    func gpt4oMini() throws {
        let model = try #require(try Catalog.bundled().model("gpt-4o-mini"))
        #expect(model.snapshot == "gpt-4o-mini-2024-07-18")
        #expect(model.released == "2024-07-18" && model.knowledgeCutoff == "2023-10-01")
        #expect(model.contextWindow == 128_000 && model.maxOutputTokens == 16_384)
        #expect(model.pricing == Pricing(input: 0.15, cachedInput: 0.075, output: 0.60))
        #expect(model.modalities == Modalities(input: ["text", "image"], output: ["text"]))
        #expect(
            model.capabilities
                == Capabilities(
                    streaming: true,
                    tools: true,
                    parallelToolCalls: true,
                    vision: true,
                    jsonMode: true,
                    jsonSchema: true,
                    promptCaching: true,
                    reasoning: false,
                    batch: true,
                    fineTuning: true
                )
        )
        #expect(model.supportedParameters.contains("stream_options") && model.supportedParameters.count == 18)
        #expect(model.routes == [CatalogRoute(provider: "openai", model: "gpt-4o-mini")])
    }

    @Test("A LiteLLM price map overrides matching routes and adds new models")
    func importsLiteLLM() throws {
        var catalog = try Catalog.bundled()
        let map = """
            {"sample_spec": {"mode": "chat"},
             "gpt-4o-mini": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-7,
                             "output_cost_per_token": 4e-7, "max_input_tokens": 100000, "max_output_tokens": 8000},
             "groq/my-finetune": {"litellm_provider": "groq", "mode": "chat", "input_cost_per_token": 2e-7,
                                  "output_cost_per_token": 2e-7, "supports_function_calling": true},
             "dall-e-3": {"litellm_provider": "openai", "mode": "image_generation"}}
            """
        try catalog.importLiteLLM(json: Data(map.utf8))
        let mini = try #require(catalog.model("gpt-4o-mini"))
        #expect(mini.pricing == Pricing(input: 0.1, output: 0.4))
        #expect(mini.contextWindow == 100_000 && mini.maxOutputTokens == 8000)
        let added = try #require(catalog.model("groq/my-finetune"))
        #expect(
            added.routes == [
                CatalogRoute(provider: "groq", model: "my-finetune", pricing: Pricing(input: 0.2, output: 0.2))
            ]
        )
        #expect(added.capabilities.tools)
        #expect(catalog.model("dall-e-3") == nil)
    }
}
