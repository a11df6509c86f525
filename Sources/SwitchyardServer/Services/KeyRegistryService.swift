// SPDX-License-Identifier: Apache-2.0

import Logging
import ServiceLifecycle
import SwitchyardCore

/// Reloads the virtual keys from the store every ``KeyRegistry/refreshInterval``, so keys created,
/// revoked or rotated through another instance apply here too. A failed reload keeps the keys it had.
struct KeyRegistryService: Service {
    let registry: KeyRegistry
    /// Teams' own provider keys, reloaded with the virtual keys.
    let vault: CredentialVault?
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await Task.sleep(for: self.registry.refreshInterval)
            do {
                try await self.registry.refresh()
                try await self.vault?.refresh()
            } catch {
                self.logger.warning(
                    "virtual keys reload failed",
                    metadata: ["gw.error": "\(String(reflecting: type(of: error)))"]
                )
            }
        }
    }
}
