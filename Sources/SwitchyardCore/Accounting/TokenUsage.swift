// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Tokens one call consumed, as the upstream reported them.
public struct TokenUsage: Sendable, Equatable, Codable {
    /// Prompt tokens, cached ones included.
    public var inputTokens: Int
    /// The part of `inputTokens` served from the provider's prompt cache.
    public var cachedInputTokens: Int
    /// The part of `inputTokens` written to the provider's prompt cache (Anthropic and Bedrock bill it apart).
    public var cacheWriteTokens: Int
    /// Completion tokens, reasoning tokens included.
    public var outputTokens: Int
    /// The part of `outputTokens` spent on reasoning.
    public var reasoningTokens: Int

    /// Creates a usage record.
    public init(
        inputTokens: Int = 0,
        cachedInputTokens: Int = 0,
        cacheWriteTokens: Int = 0,
        outputTokens: Int = 0,
        reasoningTokens: Int = 0
    ) {
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.outputTokens = outputTokens
        self.reasoningTokens = reasoningTokens
    }

    /// Reads OpenAI's `usage` object (`prompt_tokens`, `prompt_tokens_details.cached_tokens`, …).
    ///
    /// It runs on every response, so it scans the few members it needs instead of decoding.
    public init(openAIUsage bytes: some Collection<UInt8>) throws {
        let object = Array(bytes)
        let (members, _) = try JSONObjectScanner.members(of: object)
        func integer(_ key: String, in object: [UInt8], _ members: [String: JSONObjectScanner.Member]) -> Int {
            members[key].flatMap { JSONText.decodeInt(object[$0.value]) } ?? 0
        }
        func nested(_ key: String, _ inner: String) -> Int {
            guard let range = members[key]?.value, object[range.lowerBound] == UInt8(ascii: "{") else { return 0 }
            let detail = Array(object[range])
            guard let (detailMembers, _) = try? JSONObjectScanner.members(of: detail) else { return 0 }
            return integer(inner, in: detail, detailMembers)
        }
        let usage = TokenUsage(
            inputTokens: integer("prompt_tokens", in: object, members),
            cachedInputTokens: nested("prompt_tokens_details", "cached_tokens"),
            cacheWriteTokens: nested("prompt_tokens_details", "cache_creation_tokens"),
            outputTokens: integer("completion_tokens", in: object, members),
            reasoningTokens: nested("completion_tokens_details", "reasoning_tokens")
        )
        // An upstream's numbers are untrusted: a count no call can reach would overflow sums downstream.
        let counts = [
            usage.inputTokens, usage.cachedInputTokens, usage.cacheWriteTokens, usage.outputTokens,
            usage.reasoningTokens,
        ]
        guard counts.allSatisfy({ $0 <= Self.maxTokensPerCall }) else {
            throw OutOfRange(message: "usage reports more than \(Self.maxTokensPerCall) tokens")
        }
        self = usage
    }

    /// Largest token count one call can report; above it the upstream's answer is malformed.
    public static let maxTokensPerCall = 1_000_000_000

    /// A usage object with numbers no real call produces.
    public struct OutOfRange: Error, Sendable, CustomStringConvertible {
        /// What was out of range.
        public var message: String
        /// The message.
        public var description: String { self.message }
    }
}
