// SPDX-License-Identifier: Apache-2.0

extension GatewayConfiguration {
    /// The configuration used when no file is given (SPEC §4).
    ///
    /// Listens on 127.0.0.1:4000 and stores to `./switchyard.db`; each provider type adds the
    /// providers whose credentials are in `environment` (the simulator adds itself always), in the
    /// order of `types`.
    public static func embeddedDefault(environment: [String: String], types: ProviderTypes) -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        for type in types.all {
            for (name, provider) in type.environmentDefaults(environment)
            where configuration.providers[name] == nil {
                configuration.providers[name] = provider
            }
        }
        if let key = environment["SWITCHYARD_MASTER_KEY"], !key.isEmpty { configuration.masterKey = key }
        return configuration
    }
}
