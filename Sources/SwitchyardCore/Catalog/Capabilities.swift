// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What a model or route can do; each flag gates capability-aware routing.
public struct Capabilities: Sendable, Equatable, Codable {
    /// Server-sent events.
    public var streaming: Bool
    /// Tool (function) calling.
    public var tools: Bool
    /// Several tool calls in one turn.
    public var parallelToolCalls: Bool
    /// Image input.
    public var vision: Bool
    /// `response_format: json_object`.
    public var jsonMode: Bool
    /// `response_format: json_schema` (structured outputs).
    public var jsonSchema: Bool
    /// Provider-side prompt caching (cached input priced lower).
    public var promptCaching: Bool
    /// Reasoning tokens before the answer.
    public var reasoning: Bool
    /// The provider's batch API.
    public var batch: Bool
    /// Fine-tuning.
    public var fineTuning: Bool

    enum CodingKeys: String, CodingKey, CaseIterable {
        case streaming, tools, vision, reasoning, batch
        case parallelToolCalls = "parallel_tool_calls"
        case jsonMode = "json_mode"
        case jsonSchema = "json_schema"
        case promptCaching = "prompt_caching"
        case fineTuning = "fine_tuning"
    }

    /// Every capability on: what the gateway assumes of a model it has no facts about.
    public static let all = Capabilities(
        streaming: true,
        tools: true,
        parallelToolCalls: true,
        vision: true,
        jsonMode: true,
        jsonSchema: true,
        promptCaching: true,
        reasoning: true,
        batch: true,
        fineTuning: true
    )

    /// Creates a capability set.
    public init(
        streaming: Bool = false,
        tools: Bool = false,
        parallelToolCalls: Bool = false,
        vision: Bool = false,
        jsonMode: Bool = false,
        jsonSchema: Bool = false,
        promptCaching: Bool = false,
        reasoning: Bool = false,
        batch: Bool = false,
        fineTuning: Bool = false
    ) {
        self.streaming = streaming
        self.tools = tools
        self.parallelToolCalls = parallelToolCalls
        self.vision = vision
        self.jsonMode = jsonMode
        self.jsonSchema = jsonSchema
        self.promptCaching = promptCaching
        self.reasoning = reasoning
        self.batch = batch
        self.fineTuning = fineTuning
    }

    /// Decodes a full set; absent flags are false.
    public init(from decoder: any Decoder) throws {
        self = try CapabilityOverrides(from: decoder).applied(to: Capabilities())
    }

    /// The first capability `requirements` need that this set lacks, with the request field that needs it.
    public func firstMissing(for requirements: RouteRequirements) -> (capability: String, param: String)? {
        if requirements.tools && !self.tools { return ("tool calling", "tools") }
        if requirements.vision && !self.vision { return ("image input", "messages") }
        if requirements.jsonSchema && !self.jsonSchema { return ("structured output (json_schema)", "response_format") }
        if requirements.jsonMode && !(self.jsonMode || self.jsonSchema) { return ("JSON mode", "response_format") }
        if requirements.streaming && !self.streaming { return ("streaming", "stream") }
        return nil
    }
}

/// A partial capability set from a route or config override: only the flags given change.
public struct CapabilityOverrides: Sendable, Equatable, Codable {
    /// The flags given, by their config name.
    public var flags: [String: Bool]

    /// Creates overrides from config names such as `tools`.
    public init(_ flags: [String: Bool] = [:]) { self.flags = flags }

    /// Decodes an object of booleans, rejecting names that are not capabilities.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        var flags: [String: Bool] = [:]
        let known = Set(Capabilities.CodingKeys.allCases.map(\.rawValue))
        for key in container.allKeys {
            guard known.contains(key.stringValue) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key,
                    in: container,
                    debugDescription:
                        "unknown capability `\(key.stringValue)`; known: \(known.sorted().joined(separator: ", "))"
                )
            }
            flags[key.stringValue] = try container.decode(Bool.self, forKey: key)
        }
        self.flags = flags
    }

    /// Encodes the flags given.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.flags)
    }

    /// `base` with these flags applied.
    public func applied(to base: Capabilities) -> Capabilities {
        var result = base
        for (name, value) in self.flags {
            switch Capabilities.CodingKeys(rawValue: name) {
            case .streaming: result.streaming = value
            case .tools: result.tools = value
            case .parallelToolCalls: result.parallelToolCalls = value
            case .vision: result.vision = value
            case .jsonMode: result.jsonMode = value
            case .jsonSchema: result.jsonSchema = value
            case .promptCaching: result.promptCaching = value
            case .reasoning: result.reasoning = value
            case .batch: result.batch = value
            case .fineTuning: result.fineTuning = value
            case nil: break
            }
        }
        return result
    }
}

/// A coding key for any string, used to list or reject unknown keys.
public struct AnyCodingKey: CodingKey, Hashable, Sendable {
    /// The key's name.
    public var stringValue: String
    /// The key's index, for array positions.
    public var intValue: Int?

    /// Creates a key from a name.
    public init(stringValue: String) { self.stringValue = stringValue }
    /// Creates a key from an index.
    public init(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}
