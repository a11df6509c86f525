// SPDX-License-Identifier: Apache-2.0

import NIOCore
import NIOHTTPTypes
import SwitchyardCore

/// Fails a request whose body has not fully arrived within `server.body_timeout` of its head.
///
/// It sits in the connection's channel pipeline, after HTTP decoding: a timer per request on the
/// connection's event loop, armed at the head and cancelled at the end. When it fires, the error
/// reaches the handler through the request body it is reading, which answers 408. Racing the body
/// against a timer task in Swift concurrency cost two child tasks per request.
final class BodyDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    /// What the body read throws when the deadline passes.
    struct Expired: Error {
        let timeout: Duration
    }

    private let timeout: Duration
    private var deadline: Scheduled<Void>?

    init(timeout: Duration) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head:
            self.deadline?.cancel()
            let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            let timeout = self.timeout
            self.deadline = context.eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
                loopBoundContext.value.fireErrorCaught(Expired(timeout: timeout))
            }
        case .end:
            self.deadline?.cancel()
            self.deadline = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.deadline?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.deadline?.cancel()
        context.fireChannelInactive()
    }
}

extension GatewayError {
    /// 408 for a body that did not arrive in time.
    static func bodyTimeout(_ timeout: Duration) -> GatewayError {
        GatewayError(
            status: .requestTimeout,
            message: "The request body did not arrive within \(timeout) (`server.body_timeout`).",
            type: "invalid_request_error",
            code: "request_timeout"
        )
    }
}
