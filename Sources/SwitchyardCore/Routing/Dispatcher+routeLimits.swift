// SPDX-License-Identifier: Apache-2.0

import Foundation

extension Dispatcher {
    /// Whether a route's rate limits let this call try it.
    enum RouteAdmission {
        /// The route has no limits (or no store keeps them).
        case unlimited
        /// Its share is reserved until the call is done with the route.
        case reserved(QuotaReservation)
        /// The route is at its limit this minute.
        case atLimit(QuotaDemand)
    }

    /// Reserves one request and the call's estimated tokens on `route`'s limits, and on the limits
    /// the caller's key sets for the route's provider. A store that does not answer lets the call
    /// through: the upstream enforces its own limits anyway.
    func admitByLimits(_ route: Route, call: Call) async -> RouteAdmission {
        guard let ledger = self.quotaLedger else { return .unlimited }
        var owners: [(counters: (rpm: String, tpm: String), label: String, limits: RateLimits)] = []
        if let limits = route.limits, let counters = route.limitCounters {
            owners.append(((counters.rpm, counters.tpm), counters.label, limits))
        }
        if let caller = call.caller, let limits = caller.policy.limits?.providers?[route.provider.name] {
            let counter = "key:\(caller.keyID ?? "config/" + caller.keyName):provider:\(route.provider.name)"
            owners.append(
                ((counter + ":rpm", counter + ":tpm"), "key `\(caller.keyName)` on `\(route.provider.name)`", limits)
            )
        }
        guard !owners.isEmpty else { return .unlimited }
        let now = Date()
        let minute = RateLimits.window(at: now)
        var demands: [QuotaDemand] = []
        lazy var tokens = CallEstimate.tokens(call)
        for owner in owners {
            for (measure, limit) in [(QuotaDemand.Measure.requests, owner.limits.rpm), (.tokens, owner.limits.tpm)] {
                guard let limit else { continue }
                let amount = measure == .requests ? 1 : min(tokens, limit)
                demands.append(
                    QuotaDemand(
                        key: QuotaKey(
                            name: measure == .requests ? owner.counters.rpm : owner.counters.tpm,
                            window: minute.name
                        ),
                        measure: measure,
                        limit: Double(limit),
                        amount: Double(amount),
                        window: minute,
                        owner: owner.label
                    )
                )
            }
        }
        guard !demands.isEmpty else { return .unlimited }
        do {
            if let refused = try await ledger.reserve(demands, now: now) { return .atLimit(refused) }
        } catch {
            call.logger.warning(
                "route limits not checked: the store does not answer",
                metadata: ["gw.request_id": "\(call.id)", "gw.route": "\(route.label)"]
            )
            return .unlimited
        }
        return .reserved(QuotaReservation(ledger: ledger, demands: demands))
    }

    /// The 429 when every route the call could take was at its rate limit (its own, or the key's for its provider).
    static func allRoutesAtLimit(_ limited: [QuotaDemand], modelName: String) -> GatewayError {
        let routes = limited.map {
            "\($0.owner) (\(Int($0.limit)) \($0.measure == .requests ? "requests" : "tokens")/min)"
        }
        return GatewayError(
            status: .tooManyRequests,
            message: "Every route of `\(modelName)` is at its rate limit: \(routes.joined(separator: ", ")).",
            type: "rate_limit_error",
            code: "rate_limit_exceeded",
            retryAfterSeconds: limited.compactMap { $0.window.secondsLeft(at: Date()) }.min()
        )
    }
}
