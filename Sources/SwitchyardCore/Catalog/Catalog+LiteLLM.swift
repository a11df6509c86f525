// SPDX-License-Identifier: Apache-2.0

import Foundation

extension Catalog {
    /// Adds the chat and embedding models of a LiteLLM price map (`catalog: {import: FILE}`).
    ///
    /// An entry that matches an existing route (same provider and model id) updates that route's
    /// prices and limits; any other entry becomes a model of its own, named as in the map.
    public mutating func importLiteLLM(json: Data) throws {
        guard let entries = try JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw ConfigurationError("`catalog.import`: the file must be a JSON object of LiteLLM model entries")
        }
        for (key, value) in entries.sorted(by: { $0.key < $1.key }) {
            guard key != "sample_spec", let entry = value as? [String: Any] else { continue }
            let mode = entry["mode"] as? String ?? "chat"
            guard mode == "chat" || mode == "embedding" else { continue }
            let provider = Self.providerName(forLiteLLM: entry["litellm_provider"] as? String ?? "")
            let upstreamModel = key.hasPrefix(provider + "/") ? String(key.dropFirst(provider.count + 1)) : key
            let pricing = Self.pricing(entry)
            let contextWindow = (entry["max_input_tokens"] as? Int) ?? (entry["max_tokens"] as? Int)
            let maxOutput = entry["max_output_tokens"] as? Int

            if let (model, route) = self.model(provider: provider, upstreamModel: upstreamModel) {
                var updated = model
                guard let index = updated.routes.firstIndex(of: route) else { continue }
                if let pricing { updated.routes[index].pricing = pricing }
                if let contextWindow { updated.routes[index].contextWindow = contextWindow }
                if let maxOutput { updated.routes[index].maxOutputTokens = maxOutput }
                if index == 0 {
                    updated.pricing = pricing ?? updated.pricing
                    updated.contextWindow = contextWindow ?? updated.contextWindow
                    updated.maxOutputTokens = maxOutput ?? updated.maxOutputTokens
                }
                self.upsert(updated)
                continue
            }
            let flag = { (name: String) in entry[name] as? Bool ?? false }
            let vision = flag("supports_vision")
            self.upsert(
                CatalogModel(
                    id: key,
                    ownedBy: provider,
                    kind: mode == "embedding" ? .embedding : .chat,
                    contextWindow: contextWindow,
                    maxOutputTokens: mode == "embedding" ? nil : maxOutput,
                    pricing: pricing,
                    modalities: mode == "embedding"
                        ? Modalities(input: ["text"], output: ["embedding"])
                        : Modalities(input: vision ? ["text", "image"] : ["text"], output: ["text"]),
                    capabilities: Capabilities(
                        streaming: mode == "chat",
                        tools: flag("supports_function_calling"),
                        parallelToolCalls: flag("supports_parallel_function_calling"),
                        vision: vision,
                        jsonMode: flag("supports_response_schema"),
                        jsonSchema: flag("supports_response_schema"),
                        promptCaching: flag("supports_prompt_caching"),
                        reasoning: flag("supports_reasoning")
                    ),
                    routes: [CatalogRoute(provider: provider, model: upstreamModel, pricing: pricing)]
                )
            )
        }
    }

    /// Switchyard's provider name for a `litellm_provider` value.
    static func providerName(forLiteLLM name: String) -> String {
        switch name {
        case "together_ai": "together"
        case "bedrock_converse": "bedrock"
        case "text-completion-openai": "openai"
        case "vertex_ai-language-models": "gemini"
        default: name
        }
    }

    /// Per-1M prices from LiteLLM's per-token costs.
    static func pricing(_ entry: [String: Any]) -> Pricing? {
        func perMillion(_ key: String) -> Double? {
            (entry[key] as? Double ?? (entry[key] as? Int).map(Double.init)).map {
                ($0 * 1_000_000 * 1e6).rounded() / 1e6
            }
        }
        guard let input = perMillion("input_cost_per_token") else { return nil }
        return Pricing(
            input: input,
            cachedInput: perMillion("cache_read_input_token_cost"),
            cacheWrite: perMillion("cache_creation_input_token_cost"),
            output: perMillion("output_cost_per_token") ?? 0
        )
    }
}
