// SPDX-License-Identifier: Apache-2.0

import NIOCore
import NIOHTTP1
import SwitchyardCore

/// What a state machine needs to know about an exchange: whether it streams, and how large a body it takes.
protocol UpstreamExchangeShape: AnyObject {
    /// Whether a 2xx answer is handed over as a stream.
    var streaming: Bool { get }
    /// Largest complete body accepted.
    var maxBodyBytes: Int { get }
}

/// The HTTP/1.1 conversation of one pooled upstream connection, as a value: events in, one action out.
///
/// It does no I/O and reads no clock, so every path (keep-alive, early close, back-pressure, a
/// late consumer, out-of-step data, oversized bodies, timeouts) is unit-tested without sockets;
/// ``UpstreamExchangeHandler`` feeds it channel events and performs the actions it returns. This
/// is the shape AsyncHTTPClient's `HTTP1ConnectionStateMachine` has.
struct UpstreamConnectionStateMachine<Exchange: UpstreamExchangeShape> {
    enum State {
        /// Open, between exchanges.
        case idle
        /// The request is sent; the response head has not arrived.
        case awaitingHead(Exchange)
        /// A complete answer is being read into memory.
        case collecting(Exchange, HTTPResponseHead, ByteBuffer)
        /// A 2xx answer is being handed over as it arrives.
        case streaming(Exchange)
        /// The connection has closed.
        case closed
    }

    /// What the handler does next.
    enum Action {
        /// Nothing.
        case none
        /// Write the exchange's request: head, body and end in one flush.
        case send(Exchange)
        /// End the exchange (its pending answer, or its stream) with the error; the connection stays as it is.
        case fail(Exchange, any Error)
        /// End the exchange with the error and close the connection.
        case failAndClose(Exchange, any Error)
        /// Hand a streamed answer over: make the body stream, deliver the head, start the idle check.
        case startStream(Exchange, HTTPResponseHead)
        /// Start the idle check: a complete answer is being read.
        case startCollecting(Exchange)
        /// Pass a chunk to the stream's consumer.
        case yield(ByteBuffer)
        /// Deliver the complete answer; the connection may carry another exchange if `reusable`.
        case complete(Exchange, HTTPResponseHead, ByteBuffer, reusable: Bool)
        /// End the stream cleanly; the connection may carry another exchange if `reusable`.
        case finishStream(reusable: Bool)
        /// Ask the channel for more bytes.
        case read
        /// Close the connection.
        case close
    }

    private(set) var state = State.idle
    /// Why the connection is closing, once known: reported to the exchange in flight when it closes.
    private(set) var failure: ProviderError?
    private var keepAlive = true
    // Back-pressure: a read the stream's consumer is not ready for waits until it is.
    private var consumerWantsMore = true
    private var readHeld = false

    /// Whether the connection can carry a new exchange (the handler also checks the channel is active).
    var isIdle: Bool {
        if case .idle = self.state { return true }
        return false
    }

    /// A new exchange wants this connection.
    mutating func start(_ exchange: Exchange, channelIsActive: Bool) -> Action {
        guard case .idle = self.state, channelIsActive else {
            return .fail(exchange, ProviderError(kind: .connection, message: "the upstream connection closed"))
        }
        self.state = .awaitingHead(exchange)
        self.keepAlive = true
        self.consumerWantsMore = true
        self.readHeld = false
        return .send(exchange)
    }

    /// The response head arrived.
    mutating func receivedHead(_ head: HTTPResponseHead) -> Action {
        guard case .awaitingHead(let exchange) = self.state else { return self.outOfStep() }
        self.keepAlive = head.isKeepAlive
        if exchange.streaming, (200..<300).contains(head.status.code) {
            self.state = .streaming(exchange)
            return .startStream(exchange, head)
        }
        self.state = .collecting(exchange, head, ByteBuffer())
        return .startCollecting(exchange)
    }

    /// A piece of the response body arrived.
    mutating func receivedBody(_ part: ByteBuffer) -> Action {
        switch self.state {
        case .collecting(let exchange, let head, var body):
            guard body.readableBytes + part.readableBytes <= exchange.maxBodyBytes else {
                let error = ProviderError(
                    kind: .invalidResponse,
                    message: "the upstream body exceeds \(exchange.maxBodyBytes) bytes"
                )
                self.failure = error
                return .failAndClose(exchange, error)
            }
            // Drop the state's reference first so the append does not copy the buffer.
            self.state = .idle
            var part = part
            body.writeBuffer(&part)
            self.state = .collecting(exchange, head, body)
            return .none
        case .streaming:
            return .yield(part)
        case .idle, .awaitingHead, .closed:
            return self.outOfStep()
        }
    }

    /// The stream's consumer answered a `yield`: whether it wants more now.
    mutating func yielded(consumerWantsMore: Bool, dropped: Bool) -> Action {
        if dropped { return .close }
        if !consumerWantsMore { self.consumerWantsMore = false }
        return .none
    }

    /// The response ended.
    mutating func receivedEnd() -> Action {
        switch self.state {
        case .collecting(let exchange, let head, let body):
            self.state = .idle
            return .complete(exchange, head, body, reusable: self.keepAlive)
        case .streaming:
            self.state = .idle
            return .finishStream(reusable: self.keepAlive)
        case .idle, .awaitingHead, .closed:
            return self.outOfStep()
        }
    }

    /// The channel wants to read: held while a stream's consumer is behind.
    mutating func readRequested() -> Action {
        if case .streaming = self.state, !self.consumerWantsMore {
            self.readHeld = true
            return .none
        }
        return .read
    }

    /// The consumer of `exchange`'s stream wants more; demand from an earlier exchange is ignored.
    mutating func consumerReady(_ exchange: Exchange) -> Action {
        guard self.isStreaming(exchange) else { return .none }
        self.consumerWantsMore = true
        guard self.readHeld else { return .none }
        self.readHeld = false
        return .read
    }

    /// The consumer of `exchange`'s stream stopped before the end: the rest of the response would
    /// otherwise arrive on a reused connection.
    mutating func consumerGone(_ exchange: Exchange) -> Action {
        self.isStreaming(exchange) ? .close : .none
    }

    /// `exchange` must end now with `error` (a timeout, a cancellation), if it is still on this connection.
    mutating func abort(_ exchange: Exchange, with error: any Error) -> Action {
        switch self.state {
        case .awaitingHead(let current), .collecting(let current, _, _), .streaming(let current):
            guard current === exchange else { return .none }
            return .failAndClose(exchange, error)
        case .idle, .closed:
            return .none
        }
    }

    /// No byte arrived for the idle timeout while an answer was being read.
    mutating func idleTimedOut(after seconds: Double) -> Action {
        switch self.state {
        case .collecting(let exchange, _, _), .streaming(let exchange):
            let error = ProviderError(kind: .timeout, message: "no data from the upstream for \(seconds) s")
            self.failure = error
            return .failAndClose(exchange, error)
        case .idle, .awaitingHead, .closed:
            return .none
        }
    }

    /// The channel reported an error: remember why, and close.
    mutating func errorCaught(_ error: any Error) -> Action {
        if self.failure == nil {
            self.failure = ProviderError(
                kind: .connection,
                message: "the upstream connection failed",
                detail: "\(error)"
            )
        }
        return .close
    }

    /// The connection closed: the exchange in flight, if any, fails with the reason.
    mutating func channelInactive() -> Action {
        let previous = self.state
        self.state = .closed
        let error =
            self.failure
            ?? ProviderError(kind: .connection, message: "the upstream closed the connection before the response ended")
        switch previous {
        case .awaitingHead(let exchange), .collecting(let exchange, _, _), .streaming(let exchange):
            return .fail(exchange, error)
        case .idle, .closed:
            return .none
        }
    }

    private func isStreaming(_ exchange: Exchange) -> Bool {
        if case .streaming(let current) = self.state { return current === exchange }
        return false
    }

    /// A part with no exchange waiting for it: the connection is out of step; never reuse it.
    private mutating func outOfStep() -> Action {
        self.failure = ProviderError(kind: .invalidResponse, message: "unexpected data from the upstream")
        return .close
    }
}
