// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging
import ServiceLifecycle
import SwitchyardCore

/// Settles the quota ledger with the store every second (spend reported, busy holds renewed, idle
/// ones returned), purges old rate-limit windows every minute, and at shutdown reports the last
/// spend and returns every hold, so other instances can use them at once.
struct QuotaLedgerService: Service {
    let ledger: QuotaLedger
    let logger: Logger

    func run() async throws {
        var lastPurge = Date.distantPast
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let now = Date()
            await self.ledger.flush(now: now)
            if now.timeIntervalSince(lastPurge) >= 60 {
                lastPurge = now
                do {
                    try await self.ledger.store.purgeQuotas(before: now.addingTimeInterval(-3_600))
                } catch {
                    self.logger.warning("quota purge failed", metadata: ["gw.error": "\(type(of: error))"])
                }
            }
        }
        await self.ledger.releaseAll()
    }
}
