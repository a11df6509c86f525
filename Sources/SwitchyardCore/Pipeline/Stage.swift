// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One step on the path of every completion and embeddings request.
///
/// A stage does its "before" work, calls `next` to pass the call on, and may inspect or
/// replace the reply on the way back. Returning without calling `next` short-circuits
/// everything after it: that is how a rejected key ends a request.
///
/// ```swift
/// struct RejectEmptyBodies: Stage {
///     func handle(_ call: Call, next: (Call) async throws -> Reply) async throws -> Reply {
///         guard !call.body.isEmpty else { throw GatewayError.invalidRequest("The request body is empty.") }
///         return try await next(call)
///     }
/// }
/// ```
public protocol Stage: Sendable {
    /// Handles `call`, calling `next` at most once to continue down the pipeline.
    func handle(_ call: Call, next: (Call) async throws -> Reply) async throws -> Reply
}

/// A fixed, ordered chain of stages that ends in a terminal step.
///
/// Stages run their "before" work in list order and their "after" work in reverse order,
/// so the first stage sees the request first and the reply last.
public struct Pipeline: Sendable {
    private let entry: @Sendable (Call) async throws -> Reply

    /// Creates a pipeline from `stages`, outermost first, ending in `terminal`.
    public init(_ stages: [any Stage], terminal: @escaping @Sendable (Call) async throws -> Reply) {
        self.entry = stages.reversed().reduce(terminal) { next, stage in
            { call in try await stage.handle(call, next: next) }
        }
    }

    /// Runs `call` through every stage and returns the reply.
    public func run(_ call: Call) async throws -> Reply {
        try await self.entry(call)
    }
}
