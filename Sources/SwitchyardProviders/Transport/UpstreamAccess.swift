// SPDX-License-Identifier: Apache-2.0

import SwitchyardCore

/// How a provider is reached: its API root, the headers that carry its key, extra headers from the
/// configuration, and the proxy to tunnel through. Every HTTP dialect builds its requests with it.
public struct UpstreamAccess: Sendable {
    /// API root, without a trailing slash.
    public var baseURL: String
    /// The headers that carry the key (`authorization`, `x-api-key`, ...); empty without a key.
    public var credentials: [(String, String)]
    /// Extra headers from the configuration, sent after the dialect's own.
    public var extraHeaders: [String: String]
    /// The proxy to tunnel through, if any.
    public var proxy: UpstreamProxy?

    /// Creates access; `credentials` makes the key headers, and is not used without a key (`apiKey`
    /// unset, empty or `none`, which is how configs say "this server takes no key").
    public init(
        baseURL: String,
        apiKey: String?,
        credentials: (String) -> [(String, String)],
        extraHeaders: [String: String] = [:],
        proxy: UpstreamProxy? = nil
    ) {
        var root = baseURL
        while root.hasSuffix("/") { root.removeLast() }
        self.baseURL = root
        let key = apiKey.flatMap { $0.isEmpty || $0 == "none" ? nil : $0 }
        self.credentials = key.map(credentials) ?? []
        self.extraHeaders = extraHeaders
        self.proxy = proxy
    }

    /// A JSON POST of `body` to `path` under the base URL: content type and accept, the dialect's
    /// `headers`, the key, then the configured extra headers.
    public func post(_ path: String, body: [UInt8], headers: [(String, String)] = []) -> UpstreamHTTPRequest {
        var all = [("content-type", "application/json"), ("accept", "application/json, text/event-stream")]
        all += headers
        all += self.credentials
        all += self.extraHeaders.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return UpstreamHTTPRequest(url: self.baseURL + path, headers: all, body: body, proxy: self.proxy)
    }
}

/// An HTTP request an adapter wants made: always a POST of a JSON body.
public struct UpstreamHTTPRequest: Sendable, Equatable {
    /// Full URL.
    public var url: String
    /// Headers, credentials included (never log them).
    public var headers: [(String, String)]
    /// The JSON body.
    public var body: [UInt8]
    /// The proxy to tunnel through, if any.
    public var proxy: UpstreamProxy?

    /// Creates a request.
    public init(url: String, headers: [(String, String)], body: [UInt8], proxy: UpstreamProxy? = nil) {
        self.url = url
        self.headers = headers
        self.body = body
        self.proxy = proxy
    }

    /// Compares URL, body, headers and proxy.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.url == rhs.url && lhs.body == rhs.body && lhs.proxy == rhs.proxy
            && lhs.headers.elementsEqual(rhs.headers) { $0 == $1 }
    }
}
