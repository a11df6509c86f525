// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore

/// Makes providers from their configuration. Adding a dialect adds one case here.
public enum ProviderRegistry {
    /// The provider for one `providers` entry.
    public static func makeProvider(
        name: String,
        configuration: ProviderConfiguration,
        transport: HTTPTransport,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> any Provider {
        switch configuration.type {
        case "openai":
            let baseURL = configuration.baseURL ?? KnownProvider.named(name)?.baseURL ?? "https://api.openai.com/v1"
            guard let proxySetting = ProxySetting(configured: configuration.proxy) else {
                throw ConfigurationError(
                    "`providers.\(name).proxy` must be `none` or an http:// proxy URL such as http://127.0.0.1:3128"
                )
            }
            return OpenAICompatibleProvider(
                name: name,
                adapter: OpenAICompatibleAdapter(
                    baseURL: baseURL,
                    apiKey: configuration.apiKey,
                    extraHeaders: configuration.headers,
                    proxy: proxySetting.proxy(for: baseURL, environment: environment)
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
