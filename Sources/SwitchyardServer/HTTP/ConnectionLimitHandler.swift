// SPDX-License-Identifier: Apache-2.0

import NIOCore
import Synchronization

/// Closes a new client connection when `server.max_connections` are already open.
///
/// Each connection costs memory and a file descriptor whether or not it sends anything; without
/// a cap, a client opening connections in a loop exhausts the process's descriptors and every
/// other client with it.
final class ConnectionLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    /// Open connections, shared by every connection's handler.
    final class Counter: Sendable {
        let limit: Int
        private let open = Atomic<Int>(0)

        init(limit: Int) { self.limit = limit }

        /// Counts a new connection; `false` when it is one too many.
        func admit() -> Bool {
            self.open.wrappingAdd(1, ordering: .relaxed).newValue <= self.limit
        }

        /// Counts a connection gone.
        func release() { self.open.wrappingSubtract(1, ordering: .relaxed) }
    }

    private let counter: Counter

    init(counter: Counter) { self.counter = counter }

    func handlerAdded(context: ChannelHandlerContext) {
        if !self.counter.admit() { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.counter.release()
    }
}
