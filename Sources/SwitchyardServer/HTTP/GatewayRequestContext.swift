// SPDX-License-Identifier: Apache-2.0

import Hummingbird
import NIOCore

/// Hummingbird's per-request context plus the gateway's request id and the client's connection.
public struct GatewayRequestContext: RequestContext {
    /// Hummingbird's own storage (logger, allocator, parameters).
    public var coreContext: CoreRequestContextStorage
    /// `x-switchyard-request-id`; ``RequestGuardMiddleware`` sets it before any route runs.
    public var requestID = ""
    /// The client's connection, whose close a streaming reply watches.
    public let channel: any Channel

    /// Creates the context for a request just received.
    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}
