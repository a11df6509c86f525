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
final class UpstreamExchange: UpstreamExchangeShape, @unchecked Sendable {
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
/// The conversation's rules live in ``UpstreamConnectionStateMachine``; this handler feeds it the
/// channel's events and performs the actions it returns. When an exchange ends cleanly on a
/// keep-alive response the connection goes back to its pool. Anything else (an error, a timeout, a
/// consumer that stops reading a stream) closes the connection, since its state in the HTTP/1.1
/// conversation is then unknown.
///
/// Sendable only so callbacks can carry it: every method runs on the connection's event loop.
final class UpstreamExchangeHandler: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    /// Called once an exchange has ended; `reusable` says whether the connection may carry another.
    var onExchangeEnded: ((UpstreamExchangeHandler, _ reusable: Bool) -> Void)?
    /// Called when the connection closes, so a pool can forget it.
    var onClosed: ((UpstreamExchangeHandler) -> Void)?

    private var machine = UpstreamConnectionStateMachine<UpstreamExchange>()
    private var context: ChannelHandlerContext?
    // The stream being fed, and the exchange it belongs to.
    private var stream: (exchange: UpstreamExchange, source: UpstreamBodyStream.Source)?
    // The idle timer re-arms from the time of the last read instead of on every read.
    private var lastRead = NIODeadline.now()
    private var idleCheck: Scheduled<Void>?

    /// Whether the connection is open and between exchanges.
    var isReusable: Bool {
        guard self.machine.isIdle, let context = self.context else { return false }
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
        let isActive = self.context?.channel.isActive ?? false
        self.perform(self.machine.start(exchange, channelIsActive: isActive))
    }

    /// Ends `exchange` with `error` if it is still in flight, closing the connection.
    func abort(_ exchange: UpstreamExchange, with error: any Error) {
        self.perform(self.machine.abort(exchange, with: error))
    }

    // MARK: Channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.lastRead = .now()
        switch self.unwrapInboundIn(data) {
        case .head(let head): self.perform(self.machine.receivedHead(head))
        case .body(let part): self.perform(self.machine.receivedBody(part))
        case .end: self.perform(self.machine.receivedEnd())
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.perform(self.machine.channelInactive())
        self.idleCheck?.cancel()
        self.onClosed?(self)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.perform(self.machine.errorCaught(error))
    }

    func read(context: ChannelHandlerContext) {
        self.perform(self.machine.readRequested())
    }

    // MARK: Actions

    private func perform(_ action: UpstreamConnectionStateMachine<UpstreamExchange>.Action) {
        switch action {
        case .none:
            return
        case .send(let exchange):
            exchange.connection = self
            self.lastRead = .now()
            guard let context = self.context else { return }
            context.write(self.wrapOutboundOut(.head(exchange.request)), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(exchange.body))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        case .fail(let exchange, let error):
            self.end(exchange, with: error)
        case .failAndClose(let exchange, let error):
            self.end(exchange, with: error)
            self.close()
        case .startStream(let exchange, let head):
            guard let context = self.context else { return }
            let body = UpstreamBodyStream.makeSequence(
                backPressureStrategy: .init(lowWatermark: 4, highWatermark: 32),
                finishOnDeinit: false,
                delegate: BodyDemand(handler: self, exchange: exchange, loop: context.eventLoop)
            )
            self.stream = (exchange, body.source)
            exchange.settle(.success(.streaming(head, body.sequence)))
            self.armIdleCheck(exchange.idleTimeout)
        case .startCollecting(let exchange):
            self.armIdleCheck(exchange.idleTimeout)
        case .yield(let part):
            guard let source = self.stream?.source else { return }
            let result = source.yield(part)
            self.perform(
                self.machine.yielded(consumerWantsMore: result == .produceMore, dropped: result == .dropped)
            )
        case .complete(let exchange, let head, let body, let reusable):
            self.endExchange(reusable: reusable)
            exchange.settle(.success(.complete(head, body)))
        case .finishStream(let reusable):
            let source = self.stream?.source
            self.stream = nil
            self.endExchange(reusable: reusable)
            source?.finish()
        case .read:
            self.context?.read()
        case .close:
            self.close()
        }
    }

    /// Fails `exchange`: its stream if it has one, else its pending answer.
    private func end(_ exchange: UpstreamExchange, with error: any Error) {
        if let stream = self.stream, stream.exchange === exchange {
            self.stream = nil
            stream.source.finish(error)
        }
        exchange.settle(.failure(error))
    }

    private func endExchange(reusable: Bool) {
        self.idleCheck?.cancel()
        self.idleCheck = nil
        self.onExchangeEnded?(self, reusable)
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
            if NIODeadline.now() - self.lastRead >= timeout {
                self.perform(self.machine.idleTimedOut(after: Double(timeout.nanoseconds) / 1e9))
            } else if !self.machine.isIdle {
                self.armIdleCheck(timeout)
            }
        }
    }

    /// Relays the stream consumer's demand to the handler's event loop.
    struct BodyDemand: NIOAsyncSequenceProducerDelegate {
        let handler: UpstreamExchangeHandler
        let exchange: UpstreamExchange
        let loop: any EventLoop

        func produceMore() {
            let (handler, exchange) = (self.handler, self.exchange)
            self.loop.execute { handler.perform(handler.machine.consumerReady(exchange)) }
        }

        func didTerminate() {
            let (handler, exchange) = (self.handler, self.exchange)
            self.loop.execute { handler.perform(handler.machine.consumerGone(exchange)) }
        }
    }
}
