// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A route's prices in USD per one million tokens.
public struct Pricing: Sendable, Equatable, Codable {
    /// Price of uncached input tokens.
    public var input: Double
    /// Price of input tokens served from the prompt cache; the input price when absent.
    public var cachedInput: Double?
    /// Price of input tokens written to the prompt cache; the input price when absent.
    public var cacheWrite: Double?
    /// Price of output tokens, reasoning tokens included.
    public var output: Double

    enum CodingKeys: String, CodingKey {
        case input, output
        case cachedInput = "cached_input"
        case cacheWrite = "cache_write"
    }

    /// Creates prices, USD per 1M tokens.
    public init(input: Double, cachedInput: Double? = nil, cacheWrite: Double? = nil, output: Double) {
        self.input = input
        self.cachedInput = cachedInput
        self.cacheWrite = cacheWrite
        self.output = output
    }

    /// The cost of `usage` in USD: cache reads and cache writes at their own rates, the rest of the
    /// input at the input rate.
    public func cost(of usage: TokenUsage) -> Double {
        let cached = min(usage.cachedInputTokens, usage.inputTokens)
        let written = min(usage.cacheWriteTokens, usage.inputTokens - cached)
        let uncached = usage.inputTokens - cached - written
        let micro =
            Double(uncached) * self.input + Double(cached) * (self.cachedInput ?? self.input)
            + Double(written) * (self.cacheWrite ?? self.input) + Double(usage.outputTokens) * self.output
        return micro / 1_000_000
    }
}

/// Formats USD amounts in plain decimal notation, as the `x-switchyard-cost-usd` header requires.
public enum CostFormat {
    /// `0.0000435`, never `4.35e-05`; at most 10 decimal places, trailing zeros dropped.
    public static func plainDecimal(_ value: Double) -> String {
        guard value.isFinite, value > 0 else { return "0" }
        // Integer arithmetic on 1e-10 units avoids both exponent notation and binary noise.
        let units = (value * 1e10).rounded()
        guard units < 9e18 else { return String(format: "%.2f", value) }
        let scaled = UInt64(units)
        let whole = scaled / 10_000_000_000
        // Ten fraction digits, trailing zeros dropped; built from digits, not with string searches.
        var remainder = scaled % 10_000_000_000
        var digits = 10
        while digits > 0, remainder % 10 == 0 {
            remainder /= 10
            digits -= 1
        }
        guard digits > 0 else { return String(whole) }
        let fraction = String(remainder)
        return String(whole) + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
}
