// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Reads `usage` from an OpenAI response object and adds `usage.cost`, editing bytes in place.
public enum UsageAnnotator {
    /// The usage found in `object` and its cost at `pricing`; `usage.cost` is added when the cost is known.
    public static func annotate(_ object: inout JSONObjectEditor, pricing: Pricing?) throws -> (TokenUsage, Double?)? {
        guard let raw = object.value("usage"), raw.first == UInt8(ascii: "{") else { return nil }
        let usage = try TokenUsage(openAIUsage: raw)
        guard let pricing else { return (usage, nil) }
        let cost = pricing.cost(of: usage)
        var usageObject = try JSONObjectEditor(Array(raw))
        try usageObject.set("cost", json: Array(CostFormat.plainDecimal(cost).utf8))
        try object.set("usage", json: usageObject.bytes)
        return (usage, cost)
    }

    /// Annotates a complete JSON response body; bodies without usage are returned unchanged.
    public static func annotate(
        body: [UInt8],
        pricing: Pricing?
    ) throws -> (body: [UInt8], usage: TokenUsage?, cost: Double?) {
        var editor = try JSONObjectEditor(body)
        guard let (usage, cost) = try annotate(&editor, pricing: pricing) else { return (body, nil, nil) }
        return (editor.bytes, usage, cost)
    }
}
