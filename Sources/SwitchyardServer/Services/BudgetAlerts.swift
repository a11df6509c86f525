// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging
import SwitchyardCore
import SwitchyardProviders
import Synchronization

/// Posts a JSON alert to `alerts.webhook` when a key's or team's budget crosses one of
/// `alerts.thresholds` (a call refused for the budget counts as 100 %): once per budget, period and
/// threshold across every instance, because a row in the store (``QuotaStore/claimQuotaMark(_:mark:now:)``)
/// decides which instance sends it.
final class BudgetAlerts: Sendable {
    let webhook: String
    let thresholds: [Double]
    let headers: [(String, String)]
    let store: any QuotaStore
    let transport: HTTPTransport
    let logger: Logger
    /// Alerts this instance has already handled, so it asks the store once for each.
    private let handled = Mutex<Set<String>>([])
    /// Alerts remembered at most; then the set starts again (the store still sends each once).
    static let handledLimit = 10_000

    init?(configuration: AlertConfiguration, store: any QuotaStore, transport: HTTPTransport, logger: Logger) {
        guard let webhook = configuration.webhook else { return nil }
        self.webhook = webhook
        self.thresholds = configuration.thresholds
        self.headers = [("Content-Type", "application/json")] + configuration.headers.sorted { $0.key < $1.key }
        self.store = store
        self.transport = transport
        self.logger = logger
    }

    /// Notes a counter's spend; starts sending the alerts it newly crosses.
    func observe(_ observation: QuotaObservation) {
        guard observation.key.name.hasSuffix(":usd"), observation.limit > 0 else { return }
        let share = observation.refused ? 1 : observation.spent / observation.limit
        for threshold in self.thresholds where share >= threshold - 1e-9 {
            let mark = String(Int((threshold * 100).rounded()))
            let id = "\(observation.key)#\(mark)"
            let isNew = self.handled.withLock { handled in
                if handled.count >= Self.handledLimit { handled.removeAll() }
                return handled.insert(id).inserted
            }
            guard isNew else { continue }
            Task { await self.send(observation, threshold: threshold, mark: mark) }
        }
    }

    /// The alert's JSON body.
    struct Alert: Encodable {
        var type = "budget_threshold"
        var owner: String
        var id: String
        var threshold: Double
        var budgetUSD: Double
        var spentUSD: Double
        var window: String
        var exhausted: Bool
        var at: Date

        enum CodingKeys: String, CodingKey {
            case type, owner, id, threshold, window, exhausted, at
            case budgetUSD = "budget_usd"
            case spentUSD = "spent_usd"
        }
    }

    private func send(_ observation: QuotaObservation, threshold: Double, mark: String) async {
        let now = Date()
        do {
            guard try await self.store.claimQuotaMark(observation.key, mark: mark, now: now) else { return }
            // Counter names are `key:<id>:usd` or `team:<name>:usd`.
            let parts = observation.key.name.split(separator: ":", maxSplits: 1)
            let alert = Alert(
                owner: String(parts.first ?? ""),
                id: String(parts.last?.dropLast(4) ?? ""),
                threshold: threshold,
                budgetUSD: observation.limit,
                spentUSD: observation.spent,
                window: observation.key.window,
                exhausted: observation.refused,
                at: now
            )
            let body = try VirtualKeyView.encoder.encode(alert)
            _ = try await self.transport.send(
                UpstreamHTTPRequest(url: self.webhook, headers: self.headers, body: Array(body)),
                streaming: false,
                context: UpstreamContext(requestID: "alert-" + mark, firstTokenTimeout: .seconds(10)),
                parseError: { status, _, _ in
                    ProviderError(kind: .rejected, message: "the alert webhook answered \(status)")
                }
            )
            self.logger.info(
                "budget alert sent",
                metadata: ["gw.counter": "\(observation.key)", "gw.threshold": "\(mark)%"]
            )
        } catch {
            self.logger.warning(
                "budget alert failed",
                metadata: ["gw.counter": "\(observation.key)", "gw.error": "\(error)"]
            )
        }
    }
}
