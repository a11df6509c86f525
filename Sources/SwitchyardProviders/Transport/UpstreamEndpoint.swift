// SPDX-License-Identifier: Apache-2.0

import Synchronization

/// The server an upstream URL points at: connections are pooled per endpoint.
struct UpstreamEndpoint: Hashable, Sendable {
    /// Whether to speak TLS.
    var usesTLS: Bool
    /// Host name or IP address, without IPv6 brackets.
    var host: String
    /// TCP port.
    var port: Int
    /// The proxy to tunnel through, if any; part of the key, so direct and proxied connections never mix.
    var proxy: UpstreamProxy? = nil

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

    // Providers send to a handful of URLs, so each is parsed once.
    private static let parsed = Mutex<[String: UpstreamURL]>([:])

    /// The parsed form of `url`, from the cache when it was seen before.
    static func cached(_ url: String) -> UpstreamURL? {
        if let known = Self.parsed.withLock({ $0[url] }) { return known }
        guard let parsed = UpstreamURL(url) else { return nil }
        Self.parsed.withLock { $0[url] = parsed }
        return parsed
    }

    /// Parses `http://host[:port]/path?query` or `https://...`; `nil` for anything else.
    init?(_ url: String) {
        let bytes = Array(url.utf8)
        let usesTLS: Bool
        var index: Int
        if bytes.starts(with: "https://".utf8) {
            usesTLS = true
            index = 8
        } else if bytes.starts(with: "http://".utf8) {
            usesTLS = false
            index = 7
        } else {
            return nil
        }
        let authorityEnd =
            bytes[index...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? bytes.endIndex
        let authority = bytes[index..<authorityEnd]
        // Credentials in the URL are not supported; refusing them beats sending them as a host name.
        guard !authority.isEmpty, !authority.contains(UInt8(ascii: "@")) else { return nil }

        var port = usesTLS ? 443 : 80
        var hostRange = authority.indices
        var portBytes: ArraySlice<UInt8>?
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            hostRange = (authority.startIndex + 1)..<close
            index = close + 1
            if index < authorityEnd {
                guard bytes[index] == UInt8(ascii: ":") else { return nil }
                portBytes = bytes[(index + 1)..<authorityEnd]
            }
        } else if let colon = authority.lastIndex(of: UInt8(ascii: ":")) {
            hostRange = authority.startIndex..<colon
            portBytes = bytes[(colon + 1)..<authorityEnd]
        }
        if let portBytes {
            guard let value = Int(String(decoding: portBytes, as: UTF8.self)) else { return nil }
            port = value
        }
        guard !hostRange.isEmpty, (1...65535).contains(port) else { return nil }
        self.endpoint = UpstreamEndpoint(
            usesTLS: usesTLS,
            host: String(decoding: bytes[hostRange], as: UTF8.self),
            port: port
        )
        let target = String(decoding: bytes[authorityEnd...], as: UTF8.self)
        self.target = target.isEmpty ? "/" : (target.first == "?" ? "/" + target : target)
    }
}
