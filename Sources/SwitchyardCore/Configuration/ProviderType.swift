// SPDX-License-Identifier: Apache-2.0

/// A provider dialect as the configuration sees it: the `type:` of a `providers` entry.
///
/// The core knows no provider by name. Each type declares the keys of its section beyond the
/// common ones, decodes them into its own settings, and says which providers the embedded default
/// adds from the environment. The providers module implements one per dialect and registers it.
public protocol ProviderType: Sendable {
    /// The `type:` value (`openai`, `anthropic`, `simulator`, ...).
    var name: String { get }
    /// Its `gen_ai.provider.name` in OpenTelemetry's GenAI conventions (`gcp.gemini`, `aws.bedrock`, ...),
    /// used in metrics and spans; the type name unless the conventions name it otherwise.
    var genAIProviderName: String { get }
    /// Keys this type reads from a provider's section beyond ``ProviderConfiguration/commonKeys``.
    var settingKeys: [String] { get }
    /// Decodes this type's settings from the provider's section (the common keys are already read).
    func decodeSettings(from decoder: any Decoder) throws -> any ProviderSettings
    /// The providers the embedded default adds when `environment` holds their credentials, by name.
    func environmentDefaults(_ environment: [String: String]) -> [(name: String, configuration: ProviderConfiguration)]
}

extension ProviderType {
    /// The type name, for types the conventions do not name.
    public var genAIProviderName: String { self.name }
}

/// A provider type's own settings, decoded from its section of the configuration.
public protocol ProviderSettings: Sendable {}

/// Settings of a type that reads nothing beyond the common keys.
public struct NoProviderSettings: ProviderSettings {
    /// Creates empty settings.
    public init() {}
}

extension ProviderType {
    /// No extra keys.
    public var settingKeys: [String] { [] }
    /// No extra settings.
    public func decodeSettings(from decoder: any Decoder) throws -> any ProviderSettings { NoProviderSettings() }
    /// Nothing from the environment.
    public func environmentDefaults(
        _ environment: [String: String]
    ) -> [(
        name: String, configuration: ProviderConfiguration
    )] { [] }
}

/// The provider types a configuration may name, in the order the embedded default adds them.
public struct ProviderTypes: Sendable {
    /// Every registered type.
    public let all: [any ProviderType]

    /// Registers `all`; later entries with a repeated name are ignored.
    public init(_ all: [any ProviderType]) {
        var seen = Set<String>()
        self.all = all.filter { seen.insert($0.name).inserted }
    }

    /// The type called `name`.
    public func named(_ name: String) -> (any ProviderType)? {
        self.all.first { $0.name == name }
    }

    /// Every type name, for error messages.
    public var names: [String] { self.all.map(\.name) }

    /// The key under which configuration decoding finds the registered types.
    static let userInfoKey = CodingUserInfoKey(rawValue: "switchyard.providerTypes")!
}
