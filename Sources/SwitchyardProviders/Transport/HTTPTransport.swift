// SPDX-License-Identifier: Apache-2.0

import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SwitchyardCore
import Synchronization

/// Makes one upstream HTTP attempt and classifies its failure; shared by every HTTP adapter.
///
/// It keeps one keep-alive connection pool per event loop and sends each request from the pool of
/// the loop it runs on, so the upstream connection and the client connection it answers share a
/// thread. See docs/decisions/0003-upstream-http-client.md for why this is not AsyncHTTPClient.
public final class HTTPTransport: Sendable {
    private let pools: [ObjectIdentifier: UpstreamConnectionPool]
    private let fallbackPool: UpstreamConnectionPool
    private let group: MultiThreadedEventLoopGroup
    /// Largest upstream body read into memory.
    public let maxResponseBytes = 32 << 20

    /// Creates a transport on the shared event loops; connections are opened on first use.
    ///
    /// - Parameter maxConnectionsPerEndpoint: most connections to one upstream host from each event
    ///   loop; beyond it requests wait for a free connection (within their first-token timeout).
    /// - Parameter maxWaitingPerEndpoint: most requests waiting for such a connection, per loop; beyond
    ///   it a request fails at once as overloaded (the client gets 503 when every route is).
    public init(maxConnectionsPerEndpoint: Int = 256, maxWaitingPerEndpoint: Int = 1024) {
        self.group = MultiThreadedEventLoopGroup.singleton
        // One TLS context (and one read of the system trust roots) for every loop, made on first use.
        let tls = Mutex<NIOSSLContext?>(nil)
        let tlsContext: @Sendable () throws -> NIOSSLContext = {
            try tls.withLock { context in
                if let context { return context }
                let made = try NIOSSLContext(configuration: .makeClientConfiguration())
                context = made
                return made
            }
        }
        let all = self.group.makeIterator().map {
            UpstreamConnectionPool(
                loop: $0,
                maxConnectionsPerEndpoint: maxConnectionsPerEndpoint,
                maxWaitingPerEndpoint: maxWaitingPerEndpoint,
                tlsContext: tlsContext
            )
        }
        self.pools = Dictionary(uniqueKeysWithValues: all.map { (ObjectIdentifier($0.loop), $0) })
        self.fallbackPool = all[0]
    }

    /// Closes every pooled connection.
    public func shutdown() async throws {
        for pool in self.pools.values {
            try await pool.loop.flatSubmit { pool.shutdown() }.get()
        }
    }

    /// The pool of the current event loop; callers off the loops (tests, tools) share the first one's.
    private var pool: UpstreamConnectionPool {
        if let loop = MultiThreadedEventLoopGroup.currentEventLoop, let pool = self.pools[ObjectIdentifier(loop)] {
            return pool
        }
        return self.fallbackPool
    }

    /// Sends `request`; returns the body (or its stream) on 2xx, else throws the error `parseError` makes.
    public func send(
        _ request: UpstreamHTTPRequest,
        streaming: Bool,
        context: UpstreamContext,
        parseError: @Sendable (Int, [(String, String)], [UInt8]) -> ProviderError
    ) async throws -> UpstreamResponse {
        guard let url = UpstreamURL.cached(request.url) else {
            throw ProviderError(
                kind: .rejected,
                message: "the provider URL is not an http(s) URL",
                detail: request.url
            )
        }
        var target = url.endpoint
        target.proxy = request.proxy
        let endpoint = target
        var head = HTTPRequestHead(version: .http1_1, method: request.method == "GET" ? .GET : .POST, uri: url.target)
        head.headers.reserveCapacity(request.headers.count + 4)
        head.headers.add(name: "Host", value: url.endpoint.hostHeader)
        for (name, value) in request.headers(forKey: context.keyIndex, ownKey: context.ownKey) {
            head.headers.add(name: name, value: value)
        }
        head.headers.add(name: "x-switchyard-request-id", value: context.requestID)
        for (name, value) in context.traceHeaders {
            head.headers.replaceOrAdd(name: name, value: value)
        }
        head.headers.add(name: "Content-Length", value: String(request.body.count))

        let pool = self.pool
        let exchange = UpstreamExchange(
            request: head,
            body: ByteBuffer(bytes: request.body),
            streaming: streaming,
            maxBodyBytes: self.maxResponseBytes,
            idleTimeout: .nanoseconds(context.idleTimeout.nanoseconds),
            promise: pool.loop.makePromise()
        )
        let connectTimeout = TimeAmount.nanoseconds(context.connectTimeout.nanoseconds)
        let firstToken = TimeAmount.nanoseconds(max(0, context.firstTokenTimeout.nanoseconds))
        let reply = try await withTaskCancellationHandler {
            pool.loop.execute(orNow: {
                let timeout = pool.loop.scheduleTask(in: firstToken) {
                    exchange.fail(ProviderError(kind: .timeout, message: "no answer in time"))
                }
                exchange.promise.futureResult.whenComplete { _ in timeout.cancel() }
                pool.start(exchange, to: endpoint, connectTimeout: connectTimeout)
            })
            return try await exchange.promise.futureResult.get()
        } onCancel: {
            pool.loop.execute { exchange.fail(CancellationError()) }
        }

        switch reply {
        case .streaming(_, let body):
            return .stream(ByteStream(body) { pool.loop.execute { exchange.cancelStream() } })
        case .complete(let head, let body):
            guard (200..<300).contains(head.status.code) else {
                throw parseError(
                    Int(head.status.code),
                    head.headers.map { ($0.name, $0.value) },
                    Array(body.readableBytesView)
                )
            }
            return .complete(body)
        }
    }
}

extension EventLoop {
    /// Runs `work` now when already on this loop, else enqueues it: the common case skips a queue round trip.
    fileprivate func execute(orNow work: @escaping @Sendable () -> Void) {
        if self.inEventLoop { work() } else { self.execute(work) }
    }
}
