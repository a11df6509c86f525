// SPDX-License-Identifier: Apache-2.0

/// What an inbound API states about reasoning that a Chat Completions body cannot carry exactly,
/// kept beside the body: set for `/v1/messages`, read by the dialects that can take it back.
public struct InboundReasoning: Sendable, Equatable {
    /// Reasoning blocks of earlier assistant turns (OpenAI message index → the blocks as the client
    /// sent them, signatures included). Only a dialect that takes them back (Anthropic) sends them.
    public var blocks: [Int: [JSONNode]]
    /// The client's thinking budget in tokens (Anthropic's `thinking.budget_tokens`); dialects with
    /// budgets use it instead of the `reasoning_effort` level it was also mapped to.
    public var budgetTokens: Int?

    /// Creates a record.
    public init(blocks: [Int: [JSONNode]] = [:], budgetTokens: Int? = nil) {
        self.blocks = blocks
        self.budgetTokens = budgetTokens
    }
}
