// SPDX-License-Identifier: Apache-2.0

import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SwitchyardCore

/// The keep-alive HTTP/1.1 connections of one event loop, per upstream endpoint.
///
/// Every connection lives on `loop`, and so does all of this pool's state: a request sent from a
/// task running on the same loop goes out and comes back without another thread waking up.
final class UpstreamConnectionPool: @unchecked Sendable {
    /// The loop that owns the connections and this pool's state.
    let loop: any EventLoop
    private let tlsContext: @Sendable () throws -> NIOSSLContext
    private var idle: [UpstreamEndpoint: [UpstreamExchangeHandler]] = [:]
    private var idleTimers: [ObjectIdentifier: Scheduled<Void>] = [:]
    private var open: [ObjectIdentifier: any Channel] = [:]
    // Connections open or being opened, and exchanges waiting for one, per endpoint.
    private var connectionCounts: [UpstreamEndpoint: Int] = [:]
    private var waiting: [UpstreamEndpoint: CircularBuffer<(exchange: UpstreamExchange, connectTimeout: TimeAmount)>] =
        [:]
    private var isShutDown = false
    /// Most connections to one endpoint from this loop; further exchanges wait for one to free up.
    let maxConnectionsPerEndpoint: Int
    /// Most exchanges waiting for a connection to one endpoint; beyond it they fail at once as overloaded.
    let maxWaitingPerEndpoint: Int

    /// What requests get once ``shutdown()`` has begun.
    static let shuttingDown = ProviderError(kind: .connection, message: "the gateway is shutting down")
    /// What a request gets when the wait queue for its endpoint is full.
    static let overloaded = ProviderError(
        kind: .overloaded,
        message: "too many requests are waiting for a connection to this upstream",
        retryAfter: .seconds(1)
    )
    /// How long an unused connection is kept.
    static let idleConnectionLifetime = TimeAmount.seconds(60)
    /// Most idle connections kept per endpoint; more are closed when their exchange ends.
    static let maxIdlePerEndpoint = 128

    init(
        loop: any EventLoop,
        maxConnectionsPerEndpoint: Int,
        maxWaitingPerEndpoint: Int = 1024,
        tlsContext: @escaping @Sendable () throws -> NIOSSLContext
    ) {
        self.loop = loop
        self.maxConnectionsPerEndpoint = maxConnectionsPerEndpoint
        self.maxWaitingPerEndpoint = maxWaitingPerEndpoint
        self.tlsContext = tlsContext
    }

    /// Sends `exchange` to `endpoint` on a pooled connection, or a new one. Call on `loop`.
    func start(_ exchange: UpstreamExchange, to endpoint: UpstreamEndpoint, connectTimeout: TimeAmount) {
        self.loop.assertInEventLoop()
        guard !exchange.isSettled else { return }
        guard !self.isShutDown else {
            exchange.settle(.failure(Self.shuttingDown))
            return
        }
        while var connections = self.idle[endpoint], let handler = connections.popLast() {
            self.idle[endpoint] = connections
            self.idleTimers.removeValue(forKey: ObjectIdentifier(handler))?.cancel()
            if handler.isReusable {
                handler.start(exchange)
                return
            }
        }
        if self.connectionCounts[endpoint, default: 0] >= self.maxConnectionsPerEndpoint {
            // Its first-token timer keeps running while it waits.
            if self.waiting[endpoint, default: CircularBuffer()].count >= self.maxWaitingPerEndpoint {
                // Exchanges that timed out while waiting still hold a place: drop them before refusing.
                self.waiting[endpoint]?.removeAll { $0.exchange.isSettled }
            }
            guard self.waiting[endpoint, default: CircularBuffer()].count < self.maxWaitingPerEndpoint else {
                exchange.settle(.failure(Self.overloaded))
                return
            }
            // Mutated in place: copying the queue out and back would make each append O(n).
            self.waiting[endpoint, default: CircularBuffer()].append((exchange, connectTimeout))
            return
        }
        self.openConnection(for: exchange, to: endpoint, connectTimeout: connectTimeout)
    }

    private func openConnection(
        for exchange: UpstreamExchange,
        to endpoint: UpstreamEndpoint,
        connectTimeout: TimeAmount
    ) {
        self.connectionCounts[endpoint, default: 0] += 1
        self.connect(to: endpoint, timeout: connectTimeout).whenComplete { result in
            switch result {
            case .success(let handler) where exchange.isSettled:
                // The exchange timed out or was cancelled while connecting: the connection serves the next one.
                self.exchangeEnded(handler, endpoint: endpoint, reusable: true)
            case .success(let handler):
                handler.start(exchange)
            case .failure(let error):
                self.connectionCounts[endpoint, default: 1] -= 1
                exchange.settle(.failure(Self.connectFailure(error, endpoint: endpoint)))
                self.startNextWaiter(for: endpoint)
            }
        }
    }

    /// The oldest waiting exchange for `endpoint` that still wants an answer.
    private func nextWaiter(for endpoint: UpstreamEndpoint) -> (exchange: UpstreamExchange, connectTimeout: TimeAmount)?
    {
        while let next = self.waiting[endpoint]?.popFirst() {
            if self.waiting[endpoint]?.isEmpty == true { self.waiting[endpoint] = nil }
            if !next.exchange.isSettled { return next }
        }
        return nil
    }

    /// Opens a connection for the next waiter, now that there is room for one.
    private func startNextWaiter(for endpoint: UpstreamEndpoint) {
        guard !self.isShutDown, self.connectionCounts[endpoint, default: 0] < self.maxConnectionsPerEndpoint,
            let next = self.nextWaiter(for: endpoint)
        else { return }
        self.openConnection(for: next.exchange, to: endpoint, connectTimeout: next.connectTimeout)
    }

    /// Closes every connection; later requests fail. Call on `loop`.
    func shutdown() -> EventLoopFuture<Void> {
        self.loop.assertInEventLoop()
        self.isShutDown = true
        for exchange in self.waiting.values.flatMap({ $0.map(\.exchange) }) {
            exchange.settle(.failure(Self.shuttingDown))
        }
        self.waiting = [:]
        for timer in self.idleTimers.values { timer.cancel() }
        self.idleTimers = [:]
        self.idle = [:]
        let closing = self.open.values.map { channel in
            channel.close().recover { _ in }
        }
        self.open = [:]
        return EventLoopFuture.andAllComplete(closing, on: self.loop)
    }

    private func connect(to endpoint: UpstreamEndpoint, timeout: TimeAmount) -> EventLoopFuture<UpstreamExchangeHandler>
    {
        let handler = UpstreamExchangeHandler()
        let tls: NIOSSLContext?
        do {
            tls = endpoint.usesTLS ? try self.tlsContext() : nil
        } catch {
            return self.loop.makeFailedFuture(error)
        }
        // TLS (for https) and HTTP/1.1 over the connection: straight to the upstream, or inside a tunnel.
        let addUpstreamHandlers: @Sendable (any Channel) throws -> Void = { channel in
            let pipeline = channel.pipeline.syncOperations
            if let tls {
                let serverName = endpoint.hostIsIPAddress ? nil : endpoint.host
                try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
            }
            try pipeline.addHTTPClientHandlers()
            try pipeline.addHandler(handler)
        }
        let bootstrap = ClientBootstrap(group: self.loop)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
        let opened: EventLoopFuture<any Channel>
        if let proxy = endpoint.proxy {
            opened = bootstrap.connect(host: proxy.host, port: proxy.port).flatMap { channel in
                Self.openTunnel(on: channel, to: endpoint, through: proxy, timeout: timeout)
                    .flatMapThrowing { try addUpstreamHandlers(channel) }
                    .map { channel }
            }
        } else {
            opened =
                bootstrap
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try addUpstreamHandlers(channel) }
                }
                .connect(host: endpoint.host, port: endpoint.port)
        }
        return
            opened
            .flatMapThrowing { channel in
                guard !self.isShutDown else {
                    channel.close(promise: nil)
                    throw Self.shuttingDown
                }
                let id = ObjectIdentifier(handler)
                self.open[id] = channel
                handler.onExchangeEnded = { [weak self] handler, reusable in
                    self?.exchangeEnded(handler, endpoint: endpoint, reusable: reusable)
                }
                handler.onClosed = { [weak self] handler in
                    self?.forget(handler, endpoint: endpoint)
                }
                return handler
            }
    }

    private func exchangeEnded(_ handler: UpstreamExchangeHandler, endpoint: UpstreamEndpoint, reusable: Bool) {
        let id = ObjectIdentifier(handler)
        if reusable, !self.isShutDown, let next = self.nextWaiter(for: endpoint) {
            handler.start(next.exchange)
            return
        }
        guard reusable, !self.isShutDown, (self.idle[endpoint]?.count ?? 0) < Self.maxIdlePerEndpoint else {
            self.open[id]?.close(promise: nil)
            return
        }
        self.idle[endpoint, default: []].append(handler)
        self.idleTimers[id] = self.loop.scheduleTask(in: Self.idleConnectionLifetime) { [weak self] in
            self?.open[id]?.close(promise: nil)
        }
    }

    private func forget(_ handler: UpstreamExchangeHandler, endpoint: UpstreamEndpoint) {
        let id = ObjectIdentifier(handler)
        self.open.removeValue(forKey: id)
        self.idleTimers.removeValue(forKey: id)?.cancel()
        self.idle[endpoint]?.removeAll { $0 === handler }
        self.connectionCounts[endpoint, default: 1] -= 1
        self.startNextWaiter(for: endpoint)
    }

    /// Sends `CONNECT` to `proxy` on `channel` and waits, within `timeout`, for a 2xx answer; then
    /// removes the handlers it added, leaving a plain tunnel to `endpoint`.
    private static func openTunnel(
        on channel: any Channel,
        to endpoint: UpstreamEndpoint,
        through proxy: UpstreamProxy,
        timeout: TimeAmount
    ) -> EventLoopFuture<Void> {
        let loop = channel.eventLoop
        let established = loop.makePromise(of: Void.self)
        let encoder = HTTPRequestEncoder()
        let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes))
        let tunnel = ProxyTunnelHandler(target: endpoint, proxy: proxy, established: established)
        do {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(encoder)
            try pipeline.addHandler(decoder)
            try pipeline.addHandler(tunnel)
        } catch {
            channel.close(promise: nil)
            return loop.makeFailedFuture(error)
        }
        // A proxy that never answers: closing the channel fails the tunnel.
        let deadline = loop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        return established.futureResult.assumeIsolated().flatMap {
            deadline.cancel()
            let pipeline = channel.pipeline.syncOperations
            return pipeline.removeHandler(tunnel).assumeIsolated().flatMap {
                pipeline.removeHandler(decoder).assumeIsolated().flatMap { pipeline.removeHandler(encoder) }
                    .nonisolated()
            }.nonisolated()
        }.nonisolated()
    }

    private static func connectFailure(_ error: any Error, endpoint: UpstreamEndpoint) -> ProviderError {
        let target = "\(endpoint.host):\(endpoint.port)"
        if let error = error as? ChannelError, case .connectTimeout = error {
            return ProviderError(kind: .timeout, message: "connecting to the upstream timed out", detail: target)
        }
        if let error = error as? ProviderError { return error }
        // The client sees no address: a 502 must not map the operator's network for whoever sent the request.
        return ProviderError(
            kind: .connection,
            message: "cannot connect to the upstream",
            detail: "\(target): \(error)"
        )
    }
}
