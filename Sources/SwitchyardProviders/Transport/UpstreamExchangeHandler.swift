// SPDX-License-Identifier: Apache-2.0

import NIOCore
import NIOHTTP1
import SwitchyardCore

/// How far an upstream response had got when it was handed over.
enum UpstreamReply: Sendable {
    /// Status, headers and the whole body: every non-streaming answer, and every error status.
    case complete(HTTPResponseHead, ByteBuffer)
    /// A 2xx answer to a streaming request: the body follows as it arrives.
    case streaming(HTTPResponseHead, UpstreamBodyStream)
}

/// A streamed upstream body, with back-pressure: reading from the socket pauses while the consumer is behind.
typealias UpstreamBodyStream = NIOThrowingAsyncSequenceProducer<
    ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark,
    UpstreamExchangeHandler.BodyDemand
>

/// One request/response exchange on a pooled connection, as the caller sees it.
///
/// Created on any thread; everything else happens on the connection's event loop.
final class UpstreamExchange: @unchecked Sendable {
    let request: HTTPRequestHead
    let body: ByteBuffer
    let streaming: Bool
    let maxBodyBytes: Int
    let idleTimeout: TimeAmount
    let promise: EventLoopPromise<UpstreamReply>
    /// Set on the loop once the reply or a failure has been delivered.
    private(set) var isSettled = false

    init(
        request: HTTPRequestHead,
        body: ByteBuffer,
        streaming: Bool,
        maxBodyBytes: Int,
        idleTimeout: TimeAmount,
        promise: EventLoopPromise<UpstreamReply>
    ) {
        self.request = request
        self.body = body
        self.streaming = streaming
        self.maxBodyBytes = maxBodyBytes
        self.idleTimeout = idleTimeout
        self.promise = promise
    }

    /// The connection carrying the exchange, once it has started.
    weak var connection: UpstreamExchangeHandler?

    /// Ends the exchange with `error` (a timeout, a cancellation) and closes its connection if the
    /// answer has not been delivered yet: the upstream then stops generating for nobody.
    func fail(_ error: any Error) {
        guard !self.isSettled else { return }
        self.connection?.abort(self, with: error)
        self.settle(.failure(error))
    }

    /// Ends a streamed answer that is still running (its consumer is gone): the stream throws and
    /// the connection closes. Call on the connection's loop.
    func cancelStream() {
        self.connection?.abort(self, with: CancellationError())
    }

    /// Delivers the reply unless a failure (timeout, cancellation) got there first.
    func settle(_ result: Result<UpstreamReply, any Error>) {
        guard !self.isSettled else { return }
        self.isSettled = true
        self.promise.completeWith(result)
    }
}

/// The last handler of a pooled upstream connection: it sends one exchange at a time and turns the
/// response parts into an ``UpstreamReply``.
///
/// When the exchange ends cleanly on a keep-alive response it hands the connection back to its pool.
/// Anything else (an error, a timeout, a consumer that stops reading a stream) closes the connection,
/// since its state in the HTTP/1.1 conversation is then unknown.
///
/// Sendable only so callbacks can carry it: every method runs on the connection's event loop.
final class UpstreamExchangeHandler: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private enum State {
        case idle
        case awaitingHead(UpstreamExchange)
        case collecting(UpstreamExchange, HTTPResponseHead, ByteBuffer)
        case streaming(UpstreamExchange, UpstreamBodyStream.Source)
        case closed
    }

    /// Called once an exchange has ended; `reusable` says whether the connection may carry another.
    var onExchangeEnded: ((UpstreamExchangeHandler, _ reusable: Bool) -> Void)?
    /// Called when the connection closes, so a pool can forget it.
    var onClosed: ((UpstreamExchangeHandler) -> Void)?

    private var state = State.idle
    private var context: ChannelHandlerContext?
    private var keepAlive = true
    private var failure: (any Error)?
    // Back-pressure for streams: a `read` the consumer is not ready for waits here.
    private var consumerWantsMore = true
    private var readHeld = false
    // The idle timer re-arms from the time of the last read instead of on every read.
    private var lastRead = NIODeadline.now()
    private var idleCheck: Scheduled<Void>?

    /// Whether the connection is open and between exchanges.
    var isReusable: Bool {
        guard case .idle = self.state, let context = self.context else { return false }
        return context.channel.isActive
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Sends `exchange`'s request: head, body and end in one flush.
    func start(_ exchange: UpstreamExchange) {
        guard case .idle = self.state, let context = self.context, context.channel.isActive else {
            exchange.settle(.failure(ProviderError(kind: .connection, message: "the upstream connection closed")))
            return
        }
        self.state = .awaitingHead(exchange)
        exchange.connection = self
        self.keepAlive = true
        self.consumerWantsMore = true
        self.lastRead = .now()
        context.write(self.wrapOutboundOut(.head(exchange.request)), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(exchange.body))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// Ends `exchange` with `error` if it is still in flight, closing the connection.
    func abort(_ exchange: UpstreamExchange, with error: any Error) {
        switch self.state {
        case .awaitingHead(let current), .collecting(let current, _, _):
            guard current === exchange else { return }
        case .streaming(let current, let source):
            guard current === exchange else { return }
            source.finish(error)
        case .idle, .closed:
            return
        }
        exchange.settle(.failure(error))
        self.close()
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.lastRead = .now()
        switch (self.unwrapInboundIn(data), self.state) {
        case (.head(let head), .awaitingHead(let exchange)):
            self.keepAlive = head.isKeepAlive
            if exchange.streaming, (200..<300).contains(head.status.code) {
                let body = UpstreamBodyStream.makeSequence(
                    backPressureStrategy: .init(lowWatermark: 4, highWatermark: 32),
                    finishOnDeinit: false,
                    delegate: BodyDemand(handler: self, exchange: exchange, loop: context.eventLoop)
                )
                self.state = .streaming(exchange, body.source)
                exchange.settle(.success(.streaming(head, body.sequence)))
            } else {
                self.state = .collecting(exchange, head, context.channel.allocator.buffer(capacity: 0))
            }
            self.armIdleCheck(exchange.idleTimeout)

        case (.body(var part), .collecting(let exchange, let head, var body)):
            guard body.readableBytes + part.readableBytes <= exchange.maxBodyBytes else {
                let limit = exchange.maxBodyBytes
                self.abort(
                    exchange,
                    with: ProviderError(kind: .invalidResponse, message: "the upstream body exceeds \(limit) bytes")
                )
                return
            }
            // Drop the state's reference first so the append does not copy the buffer.
            self.state = .idle
            body.writeBuffer(&part)
            self.state = .collecting(exchange, head, body)

        case (.body(let part), .streaming(_, let source)):
            switch source.yield(part) {
            case .produceMore: break
            case .stopProducing: self.consumerWantsMore = false
            case .dropped: self.close()
            }

        case (.end, .collecting(let exchange, let head, let body)):
            self.endExchange()
            exchange.settle(.success(.complete(head, body)))

        case (.end, .streaming(_, let source)):
            self.endExchange()
            source.finish()

        default:
            // A part with no exchange waiting for it: the connection is out of step; never reuse it.
            self.failure = ProviderError(kind: .invalidResponse, message: "unexpected data from the upstream")
            self.close()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let error =
            self.failure
            ?? ProviderError(kind: .connection, message: "the upstream closed the connection before the response ended")
        self.failInFlight(error)
        self.state = .closed
        self.idleCheck?.cancel()
        self.onClosed?(self)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.failure == nil {
            self.failure = ProviderError(
                kind: .connection,
                message: "the upstream connection failed",
                detail: "\(error)"
            )
        }
        self.close()
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if case .streaming = self.state, !self.consumerWantsMore {
            self.readHeld = true
            return
        }
        context.read()
    }

    // MARK: Helpers

    private func endExchange() {
        self.idleCheck?.cancel()
        self.idleCheck = nil
        self.state = .idle
        self.onExchangeEnded?(self, self.keepAlive)
    }

    private func failInFlight(_ error: any Error) {
        switch self.state {
        case .awaitingHead(let exchange), .collecting(let exchange, _, _):
            exchange.settle(.failure(error))
        case .streaming(_, let source):
            source.finish(error)
        case .idle, .closed:
            break
        }
    }

    private func close() {
        guard let context = self.context, context.channel.isActive else { return }
        context.close(promise: nil)
    }

    /// Fails the exchange once no byte has arrived for `timeout`.
    private func armIdleCheck(_ timeout: TimeAmount) {
        guard let context = self.context else { return }
        self.idleCheck?.cancel()
        self.idleCheck = context.eventLoop.scheduleTask(deadline: self.lastRead + timeout) { [weak self] in
            guard let self else { return }
            switch self.state {
            case .collecting(let exchange, _, _), .streaming(let exchange, _):
                if NIODeadline.now() - self.lastRead >= timeout {
                    let seconds = Double(timeout.nanoseconds) / 1e9
                    let failure = ProviderError(kind: .timeout, message: "no data from the upstream for \(seconds) s")
                    self.failure = failure
                    self.abort(exchange, with: failure)
                } else {
                    self.armIdleCheck(timeout)
                }
            default:
                return
            }
        }
    }

    /// Whether `exchange` is the stream this connection is carrying now: demand from an earlier
    /// stream's consumer arrives late, after the connection may have moved on to the next exchange.
    private func isStreaming(_ exchange: UpstreamExchange) -> Bool {
        if case .streaming(let current, _) = self.state { return current === exchange }
        return false
    }

    private func consumerReady(_ exchange: UpstreamExchange) {
        guard self.isStreaming(exchange) else { return }
        self.consumerWantsMore = true
        if self.readHeld, let context = self.context {
            self.readHeld = false
            context.read()
        }
    }

    private func consumerGone(_ exchange: UpstreamExchange) {
        // The consumer stopped before the end: the rest of this response would arrive on a reused connection.
        if self.isStreaming(exchange) { self.close() }
    }

    /// Relays the stream consumer's demand to the handler's event loop.
    struct BodyDemand: NIOAsyncSequenceProducerDelegate {
        let handler: UpstreamExchangeHandler
        let exchange: UpstreamExchange
        let loop: any EventLoop

        func produceMore() {
            let (handler, exchange) = (self.handler, self.exchange)
            self.loop.execute { handler.consumerReady(exchange) }
        }

        func didTerminate() {
            let (handler, exchange) = (self.handler, self.exchange)
            self.loop.execute { handler.consumerGone(exchange) }
        }
    }
}
