// SPDX-License-Identifier: Apache-2.0

import Hummingbird

/// Hummingbird's per-request context plus the gateway's request id.
public struct GatewayRequestContext: RequestContext {
    /// Hummingbird's own storage (logger, allocator, parameters).
    public var coreContext: CoreRequestContextStorage
    /// `x-switchyard-request-id`; ``RequestGuardMiddleware`` sets it before any route runs.
    public var requestID = ""

    /// Creates the context for a request just received.
    public init(source: Source) {
        self.coreContext = .init(source: source)
    }
}
