// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization

/// What one call reserved on a ``QuotaLedger``, given back exactly once: when the call's reply
/// finishes, when the call fails, or, for a reply dropped unfinished (the client left before its
/// head was written), when the last reference to it goes.
public final class QuotaReservation: Sendable {
    /// Where the demands were reserved.
    public let ledger: QuotaLedger
    /// The reserved demands.
    public let demands: [QuotaDemand]
    private let open = Mutex(true)

    /// A reservation of `demands`, already made on `ledger`.
    public init(ledger: QuotaLedger, demands: [QuotaDemand]) {
        self.ledger = ledger
        self.demands = demands
    }

    /// Gives the demands back, recording what the call used: `requests` upstream requests, `tokens`
    /// tokens and `usd` dollars, each on the counters that measure it. Only the first call counts,
    /// so every way out of a call may settle.
    public func settle(requests: Int = 1, tokens: Int = 0, usd: Double = 0) {
        guard self.claim() else { return }
        let now = Date()
        for demand in self.demands {
            let used: Double =
                switch demand.measure {
                case .usd: usd
                case .requests: Double(requests)
                case .tokens: Double(tokens)
                }
            self.ledger.settle(demand, used: used, now: now)
        }
    }

    /// Settles with a finished reply's cost and tokens.
    public func settle(_ receipt: Receipt, requests: Int = 1) {
        self.settle(
            requests: requests,
            // A cache hit used no upstream tokens: its usage is the cached answer's.
            tokens: receipt.cacheStatus.isHit ? 0 : receipt.usage.map { $0.inputTokens + $0.outputTokens } ?? 0,
            usd: receipt.cost ?? 0
        )
    }

    /// A reservation of the same demands that a reply's finish hook will settle; this one then settles
    /// no more, so the other ways out of a call leave it alone. `nil` when this one was settled already.
    public func handOver() -> QuotaReservation? {
        self.claim() ? QuotaReservation(ledger: self.ledger, demands: self.demands) : nil
    }

    /// Dropped unsettled: the call counts one request and nothing else.
    deinit { self.settle() }

    /// `true` the first time only.
    private func claim() -> Bool {
        self.open.withLock { open in
            defer { open = false }
            return open
        }
    }
}
