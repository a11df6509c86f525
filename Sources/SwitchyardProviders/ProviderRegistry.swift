// SPDX-License-Identifier: Apache-2.0

import SwitchyardCore

/// Makes providers from their configuration. Adding a dialect adds one case here.
public enum ProviderRegistry {
    /// The provider for one `providers` entry.
    public static func makeProvider(
        name: String,
        configuration: ProviderConfiguration,
        transport: HTTPTransport
    ) throws -> any Provider {
        switch configuration.type {
        case "openai":
            let baseURL = configuration.baseURL ?? KnownProvider.named(name)?.baseURL ?? "https://api.openai.com/v1"
            return OpenAICompatibleProvider(
                name: name,
                adapter: OpenAICompatibleAdapter(
                    baseURL: baseURL,
                    apiKey: configuration.apiKey,
                    extraHeaders: configuration.headers
                ),
                transport: transport
            )
        case "simulator":
            return SimulatorProvider(name: name, settings: configuration.simulator)
        default:
            throw ConfigurationError("`providers.\(name).type`: `\(configuration.type)` is not implemented")
        }
    }
}
