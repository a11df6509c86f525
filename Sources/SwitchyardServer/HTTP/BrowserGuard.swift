// SPDX-License-Identifier: Apache-2.0

import HTTPTypes
import SwitchyardCore

/// Decides whether a request may reach the gateway, as a defence against web pages.
///
/// A gateway without a master key spends its owner's provider credits for anyone who can reach
/// it. Listening on loopback keeps other machines out, but not a web page in the owner's browser:
/// it can post to `127.0.0.1` directly (cross-origin) or through a domain that re-resolves to
/// loopback (DNS rebinding). So, before any upstream call:
///
/// - without a master key, the `Host` must be a loopback name or the listen address;
/// - a request with an `Origin` other than the gateway's own must come from `server.cors_origins`.
struct BrowserGuard: Sendable {
    /// Origins allowed to call cross-origin; `*` allows any.
    let allowedOrigins: Set<String>
    /// Whether the `Host` must name this machine (no master key is set).
    let checksHost: Bool
    /// The configured listen host, lowercased, also accepted as a `Host`.
    let listenHost: String

    init(configuration: GatewayConfiguration) {
        self.allowedOrigins = Set(configuration.server.corsOrigins)
        self.checksHost = configuration.masterKey == nil
        self.listenHost = configuration.host.lowercased()
    }

    /// Why the request is refused, or `nil` to let it through.
    func refusal(host: String?, origin: String?) -> GatewayError? {
        if self.checksHost, let host, !self.isLocal(host) {
            return GatewayError(
                status: .forbidden,
                message: "The Host `\(host.prefix(100))` is not this gateway's address. Without a master key the "
                    + "gateway answers only requests addressed to a loopback name or its listen address.",
                type: "permission_error",
                code: "host_not_allowed"
            )
        }
        if let origin, !self.isSameOrigin(origin, host: host), !self.allows(origin) {
            return GatewayError(
                status: .forbidden,
                message: "Cross-origin requests from `\(origin.prefix(100))` are not allowed. "
                    + "List the origin under `server.cors_origins` to let that web page call the gateway.",
                type: "permission_error",
                code: "origin_not_allowed"
            )
        }
        return nil
    }

    /// Whether `origin` is listed (so it gets CORS headers).
    func allows(_ origin: String) -> Bool {
        self.allowedOrigins.contains(origin) || self.allowedOrigins.contains("*")
    }

    /// Whether `origin` is `http(s)://` followed by the request's own `Host`.
    private func isSameOrigin(_ origin: String, host: String?) -> Bool {
        guard let host else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    /// Whether `host` (with or without a port) names the loopback interface or the listen address.
    func isLocal(_ host: String) -> Bool {
        let name = Self.hostName(host).lowercased()
        if name == "localhost" || name.hasSuffix(".localhost") || name == "::1" || name == self.listenHost {
            return true
        }
        // 127.0.0.0/8, written as a dotted quad.
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127"
            && parts.allSatisfy { part in part.count <= 3 && !part.isEmpty && part.allSatisfy(\.isASCIIDigit) }
    }

    /// `host` without its port and IPv6 brackets.
    static func hostName(_ host: String) -> Substring {
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            return host[host.index(after: host.startIndex)..<close]
        }
        if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            return host[..<colon]
        }
        return host[...]
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { self >= "0" && self <= "9" }
}
