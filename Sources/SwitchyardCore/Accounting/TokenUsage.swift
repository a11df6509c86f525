// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Tokens one call consumed, as the upstream reported them.
public struct TokenUsage: Sendable, Equatable, Codable {
    /// Prompt tokens, cached ones included.
    public var inputTokens: Int
    /// The part of `inputTokens` served from the provider's prompt cache.
    public var cachedInputTokens: Int
    /// Completion tokens, reasoning tokens included.
    public var outputTokens: Int
    /// The part of `outputTokens` spent on reasoning.
    public var reasoningTokens: Int

    /// Creates a usage record.
    public init(inputTokens: Int = 0, cachedInputTokens: Int = 0, outputTokens: Int = 0, reasoningTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.outputTokens = outputTokens
        self.reasoningTokens = reasoningTokens
    }

    /// Reads OpenAI's `usage` object (`prompt_tokens`, `prompt_tokens_details.cached_tokens`, …).
    public init(openAIUsage bytes: some Collection<UInt8>) throws {
        let wire = try JSONDecoderFactory.decoder.decode(Wire.self, from: Data(bytes))
        self.init(
            inputTokens: wire.prompt_tokens ?? 0,
            cachedInputTokens: wire.prompt_tokens_details?.cached_tokens ?? 0,
            outputTokens: wire.completion_tokens ?? 0,
            reasoningTokens: wire.completion_tokens_details?.reasoning_tokens ?? 0
        )
    }

    // swiftlint:disable identifier_name
    private struct Wire: Decodable {
        var prompt_tokens: Int?
        var completion_tokens: Int?
        var prompt_tokens_details: PromptDetails?
        var completion_tokens_details: CompletionDetails?

        struct PromptDetails: Decodable { var cached_tokens: Int? }
        struct CompletionDetails: Decodable { var reasoning_tokens: Int? }
    }
    // swiftlint:enable identifier_name
}
