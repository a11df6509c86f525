// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import NIOHTTP1
import SwitchyardCore

/// An HTTP proxy that upstream connections tunnel through with `CONNECT`.
///
/// Every proxied connection, to an `http` or an `https` upstream, is a `CONNECT` tunnel: TLS (when
/// the upstream uses it) runs end to end inside it, so the proxy sees neither keys nor bodies.
public struct UpstreamProxy: Hashable, Sendable, CustomStringConvertible {
    /// The proxy's host.
    public var host: String
    /// The proxy's port.
    public var port: Int
    /// `Proxy-Authorization` for the `CONNECT`, from credentials in the proxy URL.
    var authorization: String?

    /// Parses `http://[user:password@]host[:port]`; `nil` for anything else (an `https://` proxy
    /// is not supported).
    public init?(url: String) {
        guard url.hasPrefix("http://") else { return nil }
        var rest = url.dropFirst("http://".count)
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var authorization: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at].removingPercentEncoding ?? String(rest[..<at])
            authorization = "Basic " + Data(credentials.utf8).base64EncodedString()
            rest = rest[rest.index(after: at)...]
        }
        guard let parsed = UpstreamURL("http://" + rest) else { return nil }
        self.host = parsed.endpoint.host
        self.port = parsed.endpoint.port
        self.authorization = authorization
    }

    /// `host:port`; credentials are never shown.
    public var description: String { "\(self.host):\(self.port)" }
}

/// Which proxy, if any, a provider's upstream calls go through.
public enum ProxySetting: Sendable, Equatable {
    /// As the environment says: `HTTPS_PROXY` for https upstreams, `HTTP_PROXY` for http ones,
    /// except hosts listed in `NO_PROXY` (lower-case names are read too).
    case environment
    /// Never through a proxy (`proxy: none`).
    case direct
    /// Always through this proxy (`proxy: http://...`).
    case proxy(UpstreamProxy)

    /// The setting for a provider's `proxy:` value; `nil` when the value is not a supported proxy URL.
    public init?(configured value: String?) {
        switch value {
        case nil: self = .environment
        case "none": self = .direct
        case let url?:
            guard let proxy = UpstreamProxy(url: url) else { return nil }
            self = .proxy(proxy)
        }
    }

    /// The proxy for calls to `baseURL`, or `nil` to connect directly.
    public func proxy(for baseURL: String, environment: [String: String]) -> UpstreamProxy? {
        switch self {
        case .direct: return nil
        case .proxy(let proxy): return proxy
        case .environment:
            guard let target = UpstreamURL(baseURL)?.endpoint else { return nil }
            func variable(_ name: String) -> String? {
                (environment[name] ?? environment[name.lowercased()]).flatMap { $0.isEmpty ? nil : $0 }
            }
            if let noProxy = variable("NO_PROXY"), Self.bypasses(target, noProxy: noProxy) { return nil }
            return variable(target.usesTLS ? "HTTPS_PROXY" : "HTTP_PROXY").flatMap(UpstreamProxy.init(url:))
        }
    }

    /// Whether `NO_PROXY` (comma-separated hosts, `.domain` suffixes, optional `:port`, or `*`) covers `target`.
    static func bypasses(_ target: UpstreamEndpoint, noProxy: String) -> Bool {
        let host = target.host.lowercased()
        for rawEntry in noProxy.split(separator: ",") {
            var entry = rawEntry.trimmingCharacters(in: .whitespaces).lowercased()
            if entry == "*" { return true }
            if let colon = entry.lastIndex(of: ":"), !entry.hasSuffix("]"), entry.firstIndex(of: ":") == colon {
                guard Int(entry[entry.index(after: colon)...]) == target.port else { continue }
                entry = String(entry[..<colon])
            }
            entry = entry.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            let domain = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
            if !domain.isEmpty, host == domain || host.hasSuffix("." + domain) { return true }
        }
        return false
    }
}

/// Opens a `CONNECT` tunnel through a proxy, then gets out of the way.
///
/// It sits behind NIO's HTTP/1.1 request encoder and response decoder, which parse the proxy's
/// answer; once the proxy answers 2xx the pool removes all three and the connection carries the
/// upstream conversation (TLS first, for https).
final class ProxyTunnelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let target: UpstreamEndpoint
    private let proxy: UpstreamProxy
    private let established: EventLoopPromise<Void>
    private var answeredOK = false
    private var settled = false
    private var sent = false

    init(target: UpstreamEndpoint, proxy: UpstreamProxy, established: EventLoopPromise<Void>) {
        self.target = target
        self.proxy = proxy
        self.established = established
    }

    func channelActive(context: ChannelHandlerContext) {
        self.sendConnect(context: context)
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.sendConnect(context: context) }
    }

    private func sendConnect(context: ChannelHandlerContext) {
        guard !self.sent else { return }
        self.sent = true
        let host = self.target.host.contains(":") ? "[\(self.target.host)]" : self.target.host
        let authority = "\(host):\(self.target.port)"
        var head = HTTPRequestHead(version: .http1_1, method: .CONNECT, uri: authority)
        head.headers.add(name: "Host", value: authority)
        if let authorization = self.proxy.authorization {
            head.headers.add(name: "Proxy-Authorization", value: authorization)
        }
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head) where (200..<300).contains(head.status.code):
            self.answeredOK = true
        case .head(let head):
            let reason =
                head.status.code == 407
                ? "the proxy asks for credentials (HTTP 407)"
                : "the proxy refused the tunnel (HTTP \(head.status.code))"
            self.fail(
                ProviderError(kind: .connection, message: reason, detail: "proxy \(self.proxy)"),
                context: context
            )
        case .body:
            self.fail(
                ProviderError(kind: .connection, message: "the proxy answered CONNECT with a body"),
                context: context
            )
        case .end:
            guard self.answeredOK, !self.settled else { return }
            self.settled = true
            self.established.succeed(())
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(
            ProviderError(
                kind: .connection,
                message: "the proxy connection failed",
                detail: "proxy \(self.proxy): \(error)"
            ),
            context: context
        )
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.fail(
            ProviderError(kind: .connection, message: "the proxy closed the connection", detail: "proxy \(self.proxy)"),
            context: context
        )
        context.fireChannelInactive()
    }

    private func fail(_ error: ProviderError, context: ChannelHandlerContext) {
        guard !self.settled else { return }
        self.settled = true
        self.established.fail(error)
        context.close(promise: nil)
    }
}
