// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Decodes and validates the body for the call's endpoint, or ends the request with 400.
///
/// It runs after logging and accounting so that malformed requests are logged like any other.
public struct ValidationStage: Stage {
    /// Creates the stage.
    public init() {}

    /// Raises `call.rejection` if set; else sets `call.chat` or `call.embeddings`, then continues.
    public func handle(_ call: Call, next: (Call) async throws -> Reply) async throws -> Reply {
        if let rejection = call.rejection { throw rejection }
        var call = call
        switch call.endpoint {
        case .chatCompletions, .messages:
            var chat = try ChatRequest(body: call.body)
            chat.inboundReasoning = call.inboundReasoning
            call.chat = chat
        case .embeddings: call.embeddings = try EmbeddingsRequest(body: call.body)
        }
        return try await next(call)
    }
}
