// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore

/// A provider dialect: how its section is configured (``ProviderType``) and how its providers are made.
///
/// Adding a dialect is one file with a type conforming to this protocol and its provider, plus one
/// line in ``ProviderRegistry/dialects``.
public protocol ProviderDialect: ProviderType {
    /// The provider for the `providers` entry `name`, configured as `configuration` (of this type).
    func makeProvider(
        name: String,
        configuration: ProviderConfiguration,
        services: ProviderServices
    ) throws -> any Provider
}

/// What a dialect builds its providers with.
public struct ProviderServices: Sendable {
    /// Sends upstream HTTP requests.
    public var transport: HTTPTransport
    /// The process environment (proxy variables, credentials).
    public var environment: [String: String]

    /// Creates services.
    public init(transport: HTTPTransport, environment: [String: String]) {
        self.transport = transport
        self.environment = environment
    }

    /// The proxy calls to `url` tunnel through: the provider's `proxy:`, or else the environment's.
    public func proxy(
        for url: String,
        provider name: String,
        configuration: ProviderConfiguration
    ) throws
        -> UpstreamProxy?
    {
        guard let setting = ProxySetting(configured: configuration.proxy) else {
            throw ConfigurationError(
                "`providers.\(name).proxy` must be `none` or an http:// proxy URL such as http://127.0.0.1:3128"
            )
        }
        return setting.proxy(for: url, environment: self.environment)
    }
}

/// The registered dialects, and providers made from configuration.
public enum ProviderRegistry {
    /// Every dialect, in the order the embedded default adds their providers (the simulator last).
    public static let dialects: [any ProviderDialect] = [
        OpenAIDialect(),
        AnthropicDialect(),
        GeminiDialect(),
        AzureDialect(),
        BedrockDialect(),
        SimulatorDialect(),
    ]

    /// The types a configuration may name.
    public static let types = ProviderTypes(dialects)

    /// The provider for one `providers` entry.
    public static func makeProvider(
        name: String,
        configuration: ProviderConfiguration,
        transport: HTTPTransport,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> any Provider {
        guard let dialect = self.dialects.first(where: { $0.name == configuration.type }) else {
            throw ConfigurationError(
                "`providers.\(name).type`: `\(configuration.type)` is not a provider type; "
                    + "supported: \(self.types.names.joined(separator: ", "))"
            )
        }
        return try dialect.makeProvider(
            name: name,
            configuration: configuration,
            services: ProviderServices(transport: transport, environment: environment)
        )
    }
}

extension GatewayConfiguration {
    /// Loads the YAML file at `path` with every registered provider type.
    public static func load(path: String, environment: [String: String]) throws -> GatewayConfiguration {
        try self.load(path: path, environment: environment, types: ProviderRegistry.types)
    }

    /// Parses a YAML document with every registered provider type.
    public static func load(yaml: String, environment: [String: String]) throws -> GatewayConfiguration {
        try self.load(yaml: yaml, environment: environment, types: ProviderRegistry.types)
    }

    /// The embedded default with every registered provider type.
    public static func embeddedDefault(environment: [String: String]) -> GatewayConfiguration {
        self.embeddedDefault(environment: environment, types: ProviderRegistry.types)
    }
}
