// SPDX-License-Identifier: Apache-2.0

/// A request that declared tools and the answer to it, kept for the tool-call reliability check.
public struct ToolCallEvidence: Sendable {
    /// The chat request body (OpenAI shape).
    public var request: [UInt8]
    /// The answer: a chat completion body, or the stream's event bytes.
    public var response: [UInt8]
    /// Whether `response` is a stream of events.
    public var streamed: Bool

    /// Creates evidence.
    public init(request: [UInt8], response: [UInt8], streamed: Bool) {
        self.request = request
        self.response = response
        self.streamed = streamed
    }
}

/// Counts an answer's tool calls and how many are valid: a declared tool's name, arguments that
/// parse as JSON, and arguments that match the tool's `parameters` schema.
///
/// The schema check covers what tool declarations use: `type` (one or a list), `properties`,
/// `required`, `additionalProperties: false`, `items`, `enum`, `const`, `anyOf`/`oneOf`, nesting up
/// to ``depthLimit``; other keywords are not checked. It runs in the statistics refresh, never on a request.
enum ToolCallCheck {
    /// Deepest schema or value nesting checked; deeper parts count as matching.
    static let depthLimit = 32

    /// (tool calls in the answer, valid ones).
    static func count(_ evidence: ToolCallEvidence) -> (total: Int, valid: Int) {
        guard let request = JSONValue.parse(evidence.request)?.object else { return (0, 0) }
        var schemas: [String: JSONValue] = [:]
        for tool in request["tools"]?.array ?? [] {
            guard let function = tool.object?["function"]?.object, let name = function["name"]?.string else { continue }
            schemas[name] = function["parameters"] ?? .object([:])
        }
        let calls = evidence.streamed ? Self.streamedCalls(evidence.response) : Self.completeCalls(evidence.response)
        var valid = 0
        for call in calls {
            guard let schema = schemas[call.name] else { continue }
            let text = call.arguments.isEmpty ? "{}" : call.arguments
            guard let arguments = JSONValue.parse(Array(text.utf8)) else { continue }
            if Self.matches(arguments, schema, depth: 0) { valid += 1 }
        }
        return (calls.count, valid)
    }

    private static func completeCalls(_ body: [UInt8]) -> [(name: String, arguments: String)] {
        guard let choices = JSONValue.parse(body)?.object?["choices"]?.array else { return [] }
        return choices.flatMap { choice -> [(name: String, arguments: String)] in
            let calls = choice.object?["message"]?.object?["tool_calls"]?.array ?? []
            return calls.compactMap { call in
                guard let function = call.object?["function"]?.object, let name = function["name"]?.string else {
                    return nil
                }
                return (name, function["arguments"]?.string ?? "")
            }
        }
    }

    /// Tool calls assembled from stream deltas, by choice and tool-call index.
    private static func streamedCalls(_ events: [UInt8]) -> [(name: String, arguments: String)] {
        var decoder = SSEDecoder()
        guard let decoded = try? decoder.feed(events[...]) else { return [] }
        var calls: [String: (name: String, arguments: String)] = [:]
        var order: [String] = []
        for event in decoded {
            guard let chunk = JSONValue.parse(event.data)?.object, let choices = chunk["choices"]?.array else {
                continue
            }
            for choice in choices {
                let choiceIndex = choice.object?["index"]?.int ?? 0
                for delta in choice.object?["delta"]?.object?["tool_calls"]?.array ?? [] {
                    guard let object = delta.object else { continue }
                    let key = "\(choiceIndex):\(object["index"]?.int ?? 0)"
                    if calls[key] == nil {
                        calls[key] = ("", "")
                        order.append(key)
                    }
                    let function = object["function"]?.object
                    if let name = function?["name"]?.string { calls[key]?.name += name }
                    if let arguments = function?["arguments"]?.string { calls[key]?.arguments += arguments }
                }
            }
        }
        return order.compactMap { calls[$0] }
    }

    /// Whether `value` matches `schema` (the subset described above).
    static func matches(_ value: JSONValue, _ schema: JSONValue, depth: Int) -> Bool {
        guard depth < Self.depthLimit, let schema = schema.object else { return true }
        if let type = schema["type"] {
            let types = type.array?.compactMap(\.string) ?? type.string.map { [$0] } ?? []
            if !types.isEmpty, !types.contains(where: { Self.hasType(value, $0) }) { return false }
        }
        if let options = schema["enum"]?.array, !options.contains(value) { return false }
        if let constant = schema["const"], constant != value { return false }
        for keyword in ["anyOf", "oneOf"] {
            if let options = schema[keyword]?.array,
                !options.contains(where: { Self.matches(value, $0, depth: depth + 1) })
            {
                return false
            }
        }
        if let object = value.object {
            for name in schema["required"]?.array?.compactMap(\.string) ?? [] where object[name] == nil { return false }
            let properties = schema["properties"]?.object ?? [:]
            for (name, member) in object {
                if let property = properties[name] {
                    if !Self.matches(member, property, depth: depth + 1) { return false }
                } else if schema["additionalProperties"] == .bool(false) {
                    return false
                }
            }
        }
        if let items = value.array, let itemSchema = schema["items"] {
            for item in items where !Self.matches(item, itemSchema, depth: depth + 1) { return false }
        }
        return true
    }

    private static func hasType(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null): true
        case ("number", .number): true
        case ("integer", .number): value.double.map { $0.rounded() == $0 } ?? false
        default: false
        }
    }
}
