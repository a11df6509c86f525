// SPDX-License-Identifier: Apache-2.0

import SwitchyardCore

/// How a provider is reached: its API root, the headers that carry its key, extra headers from the
/// configuration, and the proxy to tunnel through. Every HTTP dialect builds its requests with it.
public struct UpstreamAccess: Sendable {
    /// API root, without a trailing slash.
    public var baseURL: String
    /// The headers that carry the first key (`authorization`, `x-api-key`, ...); empty without a key.
    public var credentials: [(String, String)]
    /// The key headers of every key, in rotation order, when there are several.
    public var rotation: [[(String, String)]]
    /// Makes the key headers for a key: how a team's own key is sent.
    public let keyHeaders: @Sendable (String) -> [(String, String)]
    /// Extra headers from the configuration, sent after the dialect's own.
    public var extraHeaders: [String: String]
    /// The proxy to tunnel through, if any.
    public var proxy: UpstreamProxy?

    /// Creates access; `credentials` makes the key headers, and is not used without a key (`apiKey`
    /// unset, empty or `none`, which is how configs say "this server takes no key"). `apiKeys`, when
    /// given, replaces `apiKey` with several keys to rotate through.
    public init(
        baseURL: String,
        apiKey: String?,
        apiKeys: [String] = [],
        credentials: @escaping @Sendable (String) -> [(String, String)],
        extraHeaders: [String: String] = [:],
        proxy: UpstreamProxy? = nil
    ) {
        var root = baseURL
        while root.hasSuffix("/") { root.removeLast() }
        self.baseURL = root
        let keys = (apiKeys.isEmpty ? [apiKey].compactMap { $0 } : apiKeys).filter { !$0.isEmpty && $0 != "none" }
        self.credentials = keys.first.map(credentials) ?? []
        self.rotation = keys.count > 1 ? keys.map(credentials) : []
        self.keyHeaders = credentials
        self.extraHeaders = extraHeaders
        self.proxy = proxy
    }

    /// How many keys calls rotate through (1 without rotation).
    public var keyCount: Int { max(1, self.rotation.count) }

    /// A JSON POST of `body` to `path` under the base URL: content type and accept, the dialect's
    /// `headers`, the key, then the configured extra headers.
    public func post(_ path: String, body: [UInt8], headers: [(String, String)] = []) -> UpstreamHTTPRequest {
        var all = [("content-type", "application/json"), ("accept", "application/json, text/event-stream")]
        all += headers
        all += self.credentials
        all += self.extraHeaders.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        var request = UpstreamHTTPRequest(url: self.baseURL + path, headers: all, body: body, proxy: self.proxy)
        request.keyRotation = self.rotation
        request.keyHeaders = self.keyHeaders
        return request
    }
}

/// An HTTP request an adapter wants made: a POST of a JSON body (a GET for key sets and discovery).
public struct UpstreamHTTPRequest: Sendable, Equatable {
    /// `POST`, or `GET` (then the body is empty).
    public var method = "POST"
    /// Full URL.
    public var url: String
    /// Headers, credentials included (never log them).
    public var headers: [(String, String)]
    /// The JSON body.
    public var body: [UInt8]
    /// The proxy to tunnel through, if any.
    public var proxy: UpstreamProxy?
    /// The key headers of each of the provider's keys when it has several: the transport swaps the
    /// first key's headers for those of ``UpstreamContext/keyIndex``.
    public var keyRotation: [[(String, String)]] = []
    /// Makes the key headers for a key, when the dialect sends its key in headers.
    public var keyHeaders: (@Sendable (String) -> [(String, String)])?

    /// The headers to send with key number `index` (the headers as they are for key 0 or without
    /// rotation), or with `ownKey` instead of every configured key when one is given.
    public func headers(forKey index: Int, ownKey: String? = nil) -> [(String, String)] {
        if let ownKey, let keyHeaders = self.keyHeaders {
            let own = keyHeaders(ownKey)
            let names = Set(own.map { $0.0.lowercased() })
            return self.headers.filter { !names.contains($0.0.lowercased()) } + own
        }
        guard index > 0, self.keyRotation.count > 1 else { return self.headers }
        let first = Set(self.keyRotation[0].map { $0.0.lowercased() })
        return self.headers.filter { !first.contains($0.0.lowercased()) }
            + self.keyRotation[index % self.keyRotation.count]
    }

    /// Creates a request.
    public init(url: String, headers: [(String, String)], body: [UInt8], proxy: UpstreamProxy? = nil) {
        self.url = url
        self.headers = headers
        self.body = body
        self.proxy = proxy
    }

    /// Compares URL, body, headers and proxy.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.method == rhs.method && lhs.url == rhs.url && lhs.body == rhs.body && lhs.proxy == rhs.proxy
            && lhs.headers.elementsEqual(rhs.headers) { $0 == $1 }
    }
}
