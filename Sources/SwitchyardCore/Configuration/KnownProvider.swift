// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A provider the gateway knows by name: its dialect, public endpoint and key variable.
///
/// Catalog routes name providers this way (`groq`), and the embedded default adds each one
/// whose key variable is set. OpenAI-compatible providers are configuration, not code.
public struct KnownProvider: Sendable, Equatable {
    /// The provider's name in catalogs and configs.
    public var name: String
    /// Its dialect (`type`).
    public var type: String
    /// Its public API root.
    public var baseURL: String
    /// The environment variable that holds its key.
    public var keyVariable: String

    /// Every provider the gateway knows by name, in the order the embedded default tries them.
    public static let all: [KnownProvider] = [
        KnownProvider(
            name: "openai",
            type: "openai",
            baseURL: "https://api.openai.com/v1",
            keyVariable: "OPENAI_API_KEY"
        ),
        KnownProvider(
            name: "groq",
            type: "openai",
            baseURL: "https://api.groq.com/openai/v1",
            keyVariable: "GROQ_API_KEY"
        ),
        KnownProvider(
            name: "together",
            type: "openai",
            baseURL: "https://api.together.xyz/v1",
            keyVariable: "TOGETHER_API_KEY"
        ),
        KnownProvider(
            name: "mistral",
            type: "openai",
            baseURL: "https://api.mistral.ai/v1",
            keyVariable: "MISTRAL_API_KEY"
        ),
        KnownProvider(
            name: "deepseek",
            type: "openai",
            baseURL: "https://api.deepseek.com/v1",
            keyVariable: "DEEPSEEK_API_KEY"
        ),
        KnownProvider(name: "xai", type: "openai", baseURL: "https://api.x.ai/v1", keyVariable: "XAI_API_KEY"),
    ]

    /// The known provider called `name`.
    public static func named(_ name: String) -> KnownProvider? {
        self.all.first { $0.name == name }
    }
}

extension GatewayConfiguration {
    /// The configuration used when no file is given (SPEC §4).
    ///
    /// Listens on 127.0.0.1:4000, stores to `./switchyard.db`, serves every catalog model from the
    /// simulator, and puts each known provider whose key is in `environment` in front of it.
    public static func embeddedDefault(environment: [String: String]) -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        for known in KnownProvider.all {
            guard let key = environment[known.keyVariable], !key.isEmpty else { continue }
            configuration.providers[known.name] = ProviderConfiguration(
                type: known.type,
                baseURL: known.baseURL,
                apiKey: key
            )
        }
        configuration.providers["simulator"] = ProviderConfiguration(type: "simulator")
        if let key = environment["SWITCHYARD_MASTER_KEY"], !key.isEmpty { configuration.masterKey = key }
        return configuration
    }
}
