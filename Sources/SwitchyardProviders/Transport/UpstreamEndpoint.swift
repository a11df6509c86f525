// SPDX-License-Identifier: Apache-2.0

/// The server an upstream URL points at: connections are pooled per endpoint.
struct UpstreamEndpoint: Hashable, Sendable {
    /// Whether to speak TLS.
    var usesTLS: Bool
    /// Host name or IP address, without IPv6 brackets.
    var host: String
    /// TCP port.
    var port: Int

    /// The `Host` header value: the port is left out when it is the scheme's default.
    var hostHeader: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return self.port == (self.usesTLS ? 443 : 80) ? host : "\(host):\(self.port)"
    }

    /// Whether `host` is an IP literal, which TLS must not send as the server name.
    var hostIsIPAddress: Bool {
        self.host.contains(":") || self.host.allSatisfy { $0.isNumber || $0 == "." }
    }
}

/// An upstream URL split into the endpoint to connect to and the request target to send.
struct UpstreamURL: Sendable, Equatable {
    /// Where to connect.
    var endpoint: UpstreamEndpoint
    /// Path and query, starting with `/`.
    var target: String

    /// Parses `http://host[:port]/path?query` or `https://...`; `nil` for anything else.
    init?(_ url: String) {
        let usesTLS: Bool
        let rest: Substring
        if url.hasPrefix("https://") {
            usesTLS = true
            rest = url.dropFirst(8)
        } else if url.hasPrefix("http://") {
            usesTLS = false
            rest = url.dropFirst(7)
        } else {
            return nil
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let target = rest[authorityEnd...]
        // Credentials in the URL are not supported; refusing them beats sending them as a host name.
        guard !authority.isEmpty, !authority.contains("@") else { return nil }

        var port = usesTLS ? 443 : 80
        let host: Substring
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            authority = authority[authority.index(after: close)...]
            if !authority.isEmpty {
                guard authority.first == ":", let value = Int(authority.dropFirst()) else { return nil }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let value = Int(authority[authority.index(after: colon)...]) else { return nil }
            port = value
        } else {
            host = authority
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.endpoint = UpstreamEndpoint(usesTLS: usesTLS, host: String(host), port: port)
        self.target = target.isEmpty ? "/" : (target.first == "?" ? "/" + target : String(target))
    }
}
