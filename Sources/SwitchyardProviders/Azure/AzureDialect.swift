// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore

/// The `azure` dialect: Azure OpenAI deployments, which speak OpenAI's format under other URLs.
///
/// - Configuration: the common keys plus `api_version` (default ``AzureDialect/defaultAPIVersion``);
///   `base_url` is the resource endpoint (`https://NAME.openai.azure.com`); `api_key` is sent as
///   `api-key`; a route's `model` is the deployment name.
/// - Embedded default: `azure` when `AZURE_OPENAI_API_KEY` and `AZURE_OPENAI_ENDPOINT` are set
///   (`OPENAI_API_VERSION` overrides the version), as the OpenAI SDKs read them.
///
/// Bodies pass through as bytes, as on `openai` routes: only the URL and the key header differ.
public struct AzureDialect: ProviderDialect {
    /// `azure`.
    public let name = "azure"
    /// `azure.ai.openai`, as OpenTelemetry's GenAI conventions name it.
    public let genAIProviderName = "azure.ai.openai"
    /// The `api-version` when none is configured: the current generally available one.
    public static let defaultAPIVersion = "2024-10-21"
    /// `api_version`.
    public var settingKeys: [String] { ["api_version"] }

    /// Creates the dialect.
    public init() {}

    /// Azure's settings.
    public struct Settings: ProviderSettings, Equatable {
        /// The `api-version` query parameter.
        public var apiVersion: String
    }

    private enum Keys: String, CodingKey {
        case apiVersion = "api_version"
    }

    /// Reads `api_version`: letters, digits and dashes (`2024-10-21`, `2025-04-01-preview`).
    public func decodeSettings(from decoder: any Decoder) throws -> any ProviderSettings {
        let c = try decoder.container(keyedBy: Keys.self)
        let version = try c.decodeIfPresent(String.self, forKey: .apiVersion) ?? Self.defaultAPIVersion
        guard !version.isEmpty, version.count <= 64,
            version.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
        else {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "api_version"))` must look like 2024-10-21 or 2025-04-01-preview"
            )
        }
        return Settings(apiVersion: version)
    }

    /// `azure` from `AZURE_OPENAI_API_KEY` and `AZURE_OPENAI_ENDPOINT`.
    public func environmentDefaults(
        _ environment: [String: String]
    ) -> [(
        name: String, configuration: ProviderConfiguration
    )] {
        guard let key = environment["AZURE_OPENAI_API_KEY"], !key.isEmpty,
            let endpoint = environment["AZURE_OPENAI_ENDPOINT"], endpoint.hasPrefix("https://")
        else { return [] }
        let version = environment["OPENAI_API_VERSION"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultAPIVersion
        return [
            (
                "azure",
                ProviderConfiguration(
                    type: self.name,
                    baseURL: endpoint,
                    apiKey: key,
                    settings: Settings(apiVersion: version)
                )
            )
        ]
    }

    /// An OpenAI-format provider on deployment URLs.
    public func makeProvider(
        name: String,
        configuration: ProviderConfiguration,
        services: ProviderServices
    ) throws -> any Provider {
        guard let endpoint = configuration.baseURL else {
            throw ConfigurationError(
                "`providers.\(name).base_url` is required for `type: azure`: the resource endpoint, such as "
                    + "https://NAME.openai.azure.com"
            )
        }
        let version = (configuration.settings as? Settings)?.apiVersion ?? Self.defaultAPIVersion
        return OpenAICompatibleProvider(
            name: name,
            adapter: OpenAICompatibleAdapter(
                access: UpstreamAccess(
                    baseURL: endpoint,
                    apiKey: configuration.apiKey,
                    apiKeys: configuration.apiKeys,
                    credentials: { [("api-key", $0)] },
                    extraHeaders: configuration.headers,
                    proxy: try services.proxy(for: endpoint, provider: name, configuration: configuration)
                ),
                path: Self.path(apiVersion: version)
            ),
            transport: services.transport
        )
    }

    /// `/openai/deployments/{deployment}/{operation}?api-version={version}`.
    static func path(apiVersion: String) -> @Sendable (String, String) -> String {
        { operation, deployment in
            let segment =
                deployment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/", "?", "#"]))
                ?? deployment
            return "/openai/deployments/\(segment)/\(operation)?api-version=\(apiVersion)"
        }
    }
}
