// SPDX-License-Identifier: Apache-2.0

import NIOCore
import Synchronization

/// Tells a streaming reply when its client's connection closes, without reading the connection.
///
/// A stream whose upstream is silent writes nothing, so no failed write reveals that the client has
/// gone; the upstream would keep generating for nobody. Watching the channel's close instead of
/// consuming its inbound side (as Hummingbird's `consumeWithCancellationOnInboundClose` does) keeps
/// the connection usable for the client's next request.
final class ClientCloseHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    private let state = Mutex<(closed: Bool, onClose: (@Sendable () -> Void)?)>((false, nil))

    /// Runs `onClose` when the connection closes (at once if it already has), until ``stopWatching()``.
    func watch(_ onClose: @escaping @Sendable () -> Void) {
        let closed = self.state.withLock { state -> Bool in
            if !state.closed { state.onClose = onClose }
            return state.closed
        }
        if closed { onClose() }
    }

    /// Forgets the callback: the stream has ended.
    func stopWatching() {
        self.state.withLock { $0.onClose = nil }
    }

    /// Whether the connection has closed.
    var isClosed: Bool { self.state.withLock { $0.closed } }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed()
        context.fireChannelInactive()
    }

    /// The server allows half-closure: a client that hangs up shows first as the end of its input.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { self.closed() }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.closed()
    }

    private func closed() {
        let onClose = self.state.withLock { state -> (@Sendable () -> Void)? in
            state.closed = true
            defer { state.onClose = nil }
            return state.onClose
        }
        onClose?()
    }
}
