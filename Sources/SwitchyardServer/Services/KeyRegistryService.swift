// SPDX-License-Identifier: Apache-2.0

import Logging
import ServiceLifecycle
import SwitchyardCore

/// Reloads the virtual keys from the store every ``KeyRegistry/refreshInterval``, so keys created,
/// revoked or rotated through another instance apply here too. A failed reload keeps the keys it had.
struct KeyRegistryService: Service {
    let registry: KeyRegistry
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await Task.sleep(for: self.registry.refreshInterval)
            do {
                try await self.registry.refresh()
            } catch {
                self.logger.warning(
                    "virtual keys reload failed",
                    metadata: ["gw.error": "\(String(reflecting: type(of: error)))"]
                )
            }
        }
    }
}
