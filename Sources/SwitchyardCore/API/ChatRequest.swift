// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A validated `POST /v1/chat/completions` body.
///
/// The gateway reads what it needs for routing and accounting, checks the types of the
/// parameters it knows, and keeps the client's bytes in `body` so they can be forwarded
/// without being re-encoded.
public struct ChatRequest: Sendable {
    /// The model name the client asked for.
    public var model: String
    /// Whether the client asked for server-sent events.
    public var isStreaming: Bool
    /// Whether the client asked for the usage chunk (`stream_options.include_usage`).
    public var includesUsage: Bool
    /// `max_completion_tokens`, or else `max_tokens`.
    public var maxOutputTokens: Int?
    /// The name of the parameter `maxOutputTokens` came from, for error messages.
    public var maxOutputTokensParameter: String
    /// Number of choices asked for.
    public var choiceCount: Int
    /// What the request needs from a route.
    public var requirements: RouteRequirements
    /// The last user message's text, used by the simulator to derive its answer.
    public var lastUserText: String
    /// All message text, for rough prompt-size estimates.
    public var promptCharacterCount: Int
    /// Names of the tools offered, in order.
    public var toolNames: [String]
    /// The tool the client forces with `tool_choice`, or `"required"` / `"none"` / `"auto"`.
    public var toolChoice: String?
    /// `response_format.type`, if given.
    public var responseFormat: String?
    /// The client's body exactly as received.
    public var body: [UInt8]
    /// Reasoning the inbound API stated beyond what the body carries (`/v1/messages`).
    public var inboundReasoning = InboundReasoning()
    /// The request's `user`.
    public var user: String?
    /// The request's `metadata`.
    public var metadata: [String: String]
    /// The request's `provider` preferences (removed from ``body``: upstreams do not know them).
    public var preferences: ProviderPreferences?
    /// Identifies the conversation: `user` when set, else its messages up to the first user message.
    public var conversationKey: Int
    /// Identifies the first ``PromptPrefix/characters`` characters of the prompt, when it is that long:
    /// calls that share it can reuse a provider's prompt cache.
    public var promptPrefixKey: Int?

    /// Validates `body`, throwing a 400 ``GatewayError`` that names the faulty field.
    public init(body: [UInt8]) throws(GatewayError) {
        // The scan reads every well-formed, well-typed body; `JSONDecoder` words the errors for the rest.
        let wire: Wire
        var preferences: JSONValue?
        let object = JSONValue.parse(body)?.object
        if let object, let scanned = Wire(scanning: object) {
            wire = scanned
            preferences = object["provider"]
        } else {
            wire = try decodeRequestBody(
                Wire.self,
                from: body,
                integers: ["max_tokens", "max_completion_tokens", "n", "seed", "top_logprobs"],
                numbers: ["temperature", "top_p", "presence_penalty", "frequency_penalty"]
            )
            preferences = object?["provider"]
        }
        guard let model = wire.model, !model.isEmpty else {
            throw .invalidRequest("`model` is required: name a model such as `gpt-4o-mini`.", param: "model")
        }
        guard let messages = wire.messages else {
            throw .invalidRequest("`messages` is required: send at least one message.", param: "messages")
        }
        guard !messages.isEmpty else {
            throw .invalidRequest("`messages` must contain at least one message.", param: "messages")
        }
        try Self.checkRanges(wire, messageCount: messages.count)
        for (index, message) in messages.enumerated() {
            guard ["system", "developer", "user", "assistant", "tool", "function"].contains(message.role) else {
                throw .invalidRequest(
                    "`messages[\(index)].role` must be one of system, developer, user, assistant, tool, function; got `\(message.role)`.",
                    param: "messages[\(index)].role"
                )
            }
        }
        if let format = wire.response_format?.type, !["text", "json_object", "json_schema"].contains(format) {
            throw .invalidRequest(
                "`response_format.type` must be one of text, json_object, json_schema; got `\(format)`.",
                param: "response_format.type"
            )
        }

        self.model = model
        self.isStreaming = wire.stream ?? false
        self.includesUsage = wire.stream_options?.include_usage ?? false
        if let value = wire.max_completion_tokens {
            self.maxOutputTokens = value
            self.maxOutputTokensParameter = "max_completion_tokens"
        } else {
            self.maxOutputTokens = wire.max_tokens
            self.maxOutputTokensParameter = "max_tokens"
        }
        self.choiceCount = wire.n ?? 1
        self.toolNames = wire.tools?.compactMap { $0.function?.name } ?? []
        self.toolChoice = wire.tool_choice?.name
        self.responseFormat = wire.response_format?.type
        self.lastUserText = messages.last { $0.role == "user" }?.content?.text ?? ""
        self.promptCharacterCount = messages.reduce(0) { $0 + ($1.content?.text.count ?? 0) }
        self.user = wire.user
        self.metadata = wire.metadata ?? [:]
        if let preferences, preferences != .null {
            self.preferences = try ProviderPreferences(parsing: preferences)
        }
        self.conversationKey = Self.conversationKey(user: wire.user, messages: messages)
        self.promptPrefixKey =
            self.promptCharacterCount >= PromptPrefix.characters ? PromptPrefix.key(messages) : nil
        self.requirements = RouteRequirements(
            streaming: self.isStreaming,
            tools: !(wire.tools ?? []).isEmpty,
            vision: messages.contains { $0.content?.hasImage ?? false },
            jsonMode: self.responseFormat == "json_object",
            jsonSchema: self.responseFormat == "json_schema",
            // About four characters per token for English text; routing only needs the order of magnitude.
            estimatedPromptTokens: self.promptCharacterCount / 4,
            maxOutputTokens: self.maxOutputTokens
        )
        if object?["provider"] != nil, var editor = try? JSONObjectEditor(body) {
            // A repeated member: each removal uncovers the next one.
            while editor.value("provider") != nil, (try? editor.remove("provider")) != nil {}
            self.body = editor.bytes
        } else {
            self.body = body
        }
    }

    /// `user` when set, else the messages up to and including the first user message.
    private static func conversationKey(user: String?, messages: [Message]) -> Int {
        var hasher = Hasher()
        if let user, !user.isEmpty {
            hasher.combine(0)
            hasher.combine(user)
            return hasher.finalize()
        }
        hasher.combine(1)
        for message in messages {
            hasher.combine(message.role)
            hasher.combine(message.content?.text ?? "")
            if message.role == "user" { break }
        }
        return hasher.finalize()
    }
}

/// The part of a prompt a provider's prompt cache keys on.
public enum PromptPrefix {
    /// Characters of message text that make a prefix worth keeping on one route: about 1,024
    /// tokens, the least OpenAI and Anthropic cache.
    public static let characters = 4096

    /// A key for the first ``characters`` characters of the messages' roles and text.
    static func key(_ messages: [ChatRequest.Message]) -> Int {
        var hasher = Hasher()
        var remaining = Self.characters
        for message in messages where remaining > 0 {
            hasher.combine(message.role)
            let text = message.content?.text ?? ""
            let taken = text.prefix(remaining)
            hasher.combine(taken)
            remaining -= taken.count
        }
        return hasher.finalize()
    }
}

extension ChatRequest {
    /// Upper bounds on the parameters OpenAI documents ranges for, and on the sizes of lists.
    public enum Limits {
        /// Most choices per request (`n`), as OpenAI allows.
        public static let choices = 128
        /// Most tools per request, as OpenAI allows.
        public static let tools = 128
        /// Most stop sequences, as OpenAI allows.
        public static let stopSequences = 4
        /// Most messages per request; far beyond any real conversation, it bounds the work one body causes.
        public static let messages = 100_000
        /// Largest `max_tokens` / `max_completion_tokens`: well above every model's output limit, and
        /// small enough that token arithmetic never overflows.
        public static let outputTokens = 1 << 31 - 1
        /// Most `top_logprobs`, as OpenAI allows.
        public static let topLogprobs = 20
    }

    /// Checks every numeric parameter and list size against OpenAI's documented ranges.
    private static func checkRanges(_ wire: Wire, messageCount: Int) throws(GatewayError) {
        func outside<T: Comparable>(
            _ name: String,
            _ value: T?,
            _ range: ClosedRange<T>,
            _ text: String
        ) throws(GatewayError) {
            guard let value, !range.contains(value) else { return }
            throw .invalidRequest("`\(name)` must be \(text); got \(value).", param: name, code: "invalid_value")
        }
        if messageCount > Limits.messages {
            throw .arrayTooLong("messages", count: messageCount, limit: Limits.messages, noun: "messages")
        }
        try outside("n", wire.n, 1...Limits.choices, "between 1 and \(Limits.choices)")
        try outside("max_tokens", wire.max_tokens, 1...Limits.outputTokens, "between 1 and \(Limits.outputTokens)")
        try outside(
            "max_completion_tokens",
            wire.max_completion_tokens,
            1...Limits.outputTokens,
            "between 1 and \(Limits.outputTokens)"
        )
        try outside("temperature", wire.temperature, 0...2, "between 0 and 2")
        try outside("top_p", wire.top_p, 0...1, "between 0 and 1")
        try outside("presence_penalty", wire.presence_penalty, -2...2, "between -2 and 2")
        try outside("frequency_penalty", wire.frequency_penalty, -2...2, "between -2 and 2")
        try outside("top_logprobs", wire.top_logprobs, 0...Limits.topLogprobs, "between 0 and \(Limits.topLogprobs)")
        if wire.top_logprobs != nil, wire.logprobs != true {
            throw .invalidRequest(
                "`top_logprobs` needs `logprobs: true`.",
                param: "top_logprobs",
                code: "invalid_value"
            )
        }
        if let tools = wire.tools, tools.count > Limits.tools {
            throw .arrayTooLong("tools", count: tools.count, limit: Limits.tools, noun: "tools")
        }
        if case .many(let sequences) = wire.stop, sequences.count > Limits.stopSequences {
            throw .arrayTooLong("stop", count: sequences.count, limit: Limits.stopSequences, noun: "sequences")
        }
    }
}

/// What a request needs from a route; routes that lack any of it are skipped.
public struct RouteRequirements: Sendable, Equatable {
    /// Server-sent events.
    public var streaming = false
    /// Tool calling.
    public var tools = false
    /// Image input.
    public var vision = false
    /// `response_format: json_object`.
    public var jsonMode = false
    /// `response_format: json_schema`.
    public var jsonSchema = false
    /// Rough prompt size in tokens.
    public var estimatedPromptTokens = 0
    /// Requested maximum output tokens.
    public var maxOutputTokens: Int?

    /// Creates requirements; everything defaults to "not needed".
    public init(
        streaming: Bool = false,
        tools: Bool = false,
        vision: Bool = false,
        jsonMode: Bool = false,
        jsonSchema: Bool = false,
        estimatedPromptTokens: Int = 0,
        maxOutputTokens: Int? = nil
    ) {
        self.streaming = streaming
        self.tools = tools
        self.vision = vision
        self.jsonMode = jsonMode
        self.jsonSchema = jsonSchema
        self.estimatedPromptTokens = estimatedPromptTokens
        self.maxOutputTokens = maxOutputTokens
    }
}

/// Decodes a request body, turning decoding failures into 400s that name the field.
///
/// `JSONDecoder` calls a whole body invalid when one number does not fit its type (`"seed": 1e40`,
/// `"temperature": 1e400`); the top-level `integers` and `numbers` named are then checked so the
/// error names the field instead.
func decodeRequestBody<T: Decodable>(
    _ type: T.Type,
    from body: [UInt8],
    integers: [String] = [],
    numbers: [String] = []
) throws(GatewayError) -> T {
    if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
        throw .invalidRequest("The request body is empty: send a JSON object.")
    }
    // JSONDecoder traps on some inputs nested past its limit; such bodies never reach it.
    if JSONText.nestsTooDeeply(body) {
        throw .invalidRequest(
            "The request body nests arrays or objects more than \(JSONText.maxNesting) levels deep.",
            code: "nesting_too_deep"
        )
    }
    do {
        return try JSONDecoderFactory.decoder.decode(T.self, from: Data(body))
    } catch let error as DecodingError {
        if let object = JSONValue.parse(body)?.object {
            let expected =
                integers.map { ($0, true, "an integer that fits in 64 bits") }
                + numbers.map { ($0, false, "a finite number") }
            for (name, isInteger, kind) in expected {
                guard let value = object[name], case .number(let text) = value else { continue }
                if (isInteger ? value.int == nil : value.double == nil) {
                    throw GatewayError.invalidRequest(
                        "`\(name)` must be \(kind); got \(text.prefix(40)).",
                        param: name,
                        code: "invalid_value"
                    )
                }
            }
        }
        throw GatewayError.invalidRequest(describe(error), param: fieldPath(of: error))
    } catch {
        throw .invalidRequest("The request body is not valid JSON.")
    }
}

private func fieldPath(of error: DecodingError) -> String? {
    let path: [any CodingKey]
    switch error {
    case .typeMismatch(_, let context), .valueNotFound(_, let context): path = context.codingPath
    case .keyNotFound(let key, let context): path = context.codingPath + [key]
    case .dataCorrupted(let context): path = context.codingPath
    @unknown default: return nil
    }
    guard !path.isEmpty else { return nil }
    return path.reduce("") { partial, key in
        if let index = key.intValue { return partial + "[\(index)]" }
        return partial.isEmpty ? key.stringValue : partial + "." + key.stringValue
    }
}

private func describe(_ error: DecodingError) -> String {
    let field = fieldPath(of: error).map { "`\($0)`" }
    switch error {
    case .typeMismatch(let type, _):
        return "\(field ?? "The body") has the wrong type: expected \(jsonTypeName(type))."
    case .valueNotFound(let type, _):
        return "\(field ?? "A value") must not be null: expected \(jsonTypeName(type))."
    case .keyNotFound(_, _):
        return "\(field ?? "A field") is required."
    case .dataCorrupted(let context):
        if context.codingPath.isEmpty { return "The request body is not valid JSON: \(context.debugDescription)" }
        return "\(field ?? "A field") is invalid: \(context.debugDescription)"
    @unknown default:
        return "The request body is invalid."
    }
}

private func jsonTypeName(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Bool.Type: "a boolean"
    case is Int.Type: "an integer"
    case is Double.Type: "a number"
    case is [Any].Type: "an array"
    default: "an object"
    }
}

// MARK: - Wire format

extension ChatRequest {
    // Field names follow the wire so that decoding errors name the client's own field.
    // swiftlint:disable identifier_name
    struct Wire: Decodable, Equatable {
        var model: String?
        var messages: [Message]?
        var stream: Bool?
        var stream_options: StreamOptions?
        var max_tokens: Int?
        var max_completion_tokens: Int?
        var n: Int?
        var temperature: Double?
        var top_p: Double?
        var presence_penalty: Double?
        var frequency_penalty: Double?
        var seed: Int?
        var logprobs: Bool?
        var top_logprobs: Int?
        var parallel_tool_calls: Bool?
        var user: String?
        var metadata: [String: String]?
        var stop: Stop?
        var tools: [Tool]?
        var tool_choice: ToolChoice?
        var response_format: ResponseFormat?
    }

    struct StreamOptions: Decodable, Equatable {
        var include_usage: Bool?
    }

    struct ResponseFormat: Decodable, Equatable {
        var type: String
    }

    struct Tool: Decodable, Equatable {
        var type: String
        var function: Function?

        struct Function: Decodable, Equatable {
            var name: String
        }
    }

    enum Stop: Decodable, Equatable {
        case one(String)
        case many([String])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(String.self) {
                self = .one(value)
            } else {
                self = .many(try container.decode([String].self))
            }
        }
    }

    /// `"auto"`, `"none"`, `"required"` or `{"type": "function", "function": {"name": ...}}`.
    struct ToolChoice: Decodable, Equatable {
        var name: String

        init(name: String) { self.name = name }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let mode = try? container.decode(String.self) {
                self.name = mode
            } else {
                self.name = try container.decode(Tool.self).function?.name ?? "required"
            }
        }
    }

    struct Message: Decodable, Equatable {
        var role: String
        var content: Content?
    }

    /// Message content: a string, or an array of typed parts.
    enum Content: Decodable, Equatable {
        case text(String)
        case parts([Part])

        struct Part: Decodable, Equatable {
            var type: String
            var text: String?
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .text(text)
            } else {
                self = .parts(try container.decode([Part].self))
            }
        }

        var text: String {
            switch self {
            case .text(let text): text
            case .parts(let parts): parts.compactMap(\.text).joined(separator: "\n")
            }
        }

        var hasImage: Bool {
            if case .parts(let parts) = self {
                return parts.contains { $0.type == "image_url" || $0.type == "input_image" }
            }
            return false
        }
    }
    // swiftlint:enable identifier_name
}

// MARK: - Reading the wire format without JSONDecoder

extension ChatRequest.Wire {
    /// Reads `body` with ``JSONValue``; `nil` when the body is not valid JSON or a known field has a
    /// type `JSONDecoder` might read differently, so that the decoder decides (and words the error).
    init?(scanning body: [UInt8]) {
        guard let object = JSONValue.parse(body)?.object else { return nil }
        self.init(scanning: object)
    }

    /// Reads an already parsed body object.
    init?(scanning object: [String: JSONValue]) {
        let fields = Fields(object)
        guard let model = fields.read("model", \.string),
            let messages = fields.read("messages", { $0.array?.mapAll(ChatRequest.Message.init(scanning:)) }),
            let stream = fields.read("stream", \.bool),
            let streamOptions = fields.read("stream_options", { $0.object.flatMap(ChatRequest.StreamOptions.init) }),
            let maxTokens = fields.read("max_tokens", \.int),
            let maxCompletionTokens = fields.read("max_completion_tokens", \.int),
            let n = fields.read("n", \.int),
            let temperature = fields.read("temperature", \.double),
            let topP = fields.read("top_p", \.double),
            let presencePenalty = fields.read("presence_penalty", \.double),
            let frequencyPenalty = fields.read("frequency_penalty", \.double),
            let seed = fields.read("seed", \.int),
            let logprobs = fields.read("logprobs", \.bool),
            let topLogprobs = fields.read("top_logprobs", \.int),
            let parallelToolCalls = fields.read("parallel_tool_calls", \.bool),
            let user = fields.read("user", \.string),
            let metadata = fields.read(
                "metadata",
                { value in
                    value.object.flatMap { object in
                        let strings = object.compactMapValues(\.string)
                        return strings.count == object.count ? strings : nil
                    }
                }
            ),
            let stop = fields.read("stop", ChatRequest.Stop.init(scanning:)),
            let tools = fields.read("tools", { $0.array?.mapAll(ChatRequest.Tool.init(scanning:)) }),
            let toolChoice = fields.read("tool_choice", ChatRequest.ToolChoice.init(scanning:)),
            let responseFormat = fields.read("response_format", ChatRequest.ResponseFormat.init(scanning:))
        else { return nil }
        self.init(
            model: model,
            messages: messages,
            stream: stream,
            stream_options: streamOptions,
            max_tokens: maxTokens,
            max_completion_tokens: maxCompletionTokens,
            n: n,
            temperature: temperature,
            top_p: topP,
            presence_penalty: presencePenalty,
            frequency_penalty: frequencyPenalty,
            seed: seed,
            logprobs: logprobs,
            top_logprobs: topLogprobs,
            parallel_tool_calls: parallelToolCalls,
            user: user,
            metadata: metadata,
            stop: stop,
            tools: tools,
            tool_choice: toolChoice,
            response_format: responseFormat
        )
    }
}

/// Optional members of a scanned object, read the way `decodeIfPresent` reads them.
private struct Fields {
    let object: [String: JSONValue]

    init(_ object: [String: JSONValue]) { self.object = object }

    /// `.some(nil)` when absent or null, `.some(value)` when `convert` accepts it, `nil` when it does not.
    func read<T>(_ key: String, _ convert: (JSONValue) -> T?) -> T?? {
        guard let value = self.object[key], value != .null else { return .some(nil) }
        return convert(value).map { .some($0) }
    }

    /// A required member: `nil` when absent, null or not accepted.
    func require<T>(_ key: String, _ convert: (JSONValue) -> T?) -> T? {
        self.object[key].flatMap(convert)
    }
}

extension Array {
    /// Every element transformed, or `nil` if any transform fails.
    fileprivate func mapAll<T>(_ transform: (Element) -> T?) -> [T]? {
        var result: [T] = []
        result.reserveCapacity(self.count)
        for element in self {
            guard let value = transform(element) else { return nil }
            result.append(value)
        }
        return result
    }
}

extension ChatRequest.Message {
    fileprivate init?(scanning value: JSONValue) {
        guard let object = value.object else { return nil }
        let fields = Fields(object)
        guard let role = fields.require("role", \.string),
            let content = fields.read("content", ChatRequest.Content.init(scanning:))
        else { return nil }
        self.init(role: role, content: content)
    }
}

extension ChatRequest.Content {
    fileprivate init?(scanning value: JSONValue) {
        switch value {
        case .string(let text): self = .text(text)
        case .array(let parts):
            guard let parts = parts.mapAll(Part.init(scanning:)) else { return nil }
            self = .parts(parts)
        default: return nil
        }
    }
}

extension ChatRequest.Content.Part {
    fileprivate init?(scanning value: JSONValue) {
        guard let object = value.object else { return nil }
        let fields = Fields(object)
        guard let type = fields.require("type", \.string), let text = fields.read("text", \.string) else { return nil }
        self.init(type: type, text: text)
    }
}

extension ChatRequest.StreamOptions {
    fileprivate init?(_ object: [String: JSONValue]) {
        guard let includeUsage = Fields(object).read("include_usage", \.bool) else { return nil }
        self.init(include_usage: includeUsage)
    }
}

extension ChatRequest.ResponseFormat {
    fileprivate init?(scanning value: JSONValue) {
        guard let type = value.object.flatMap({ Fields($0).require("type", \.string) }) else { return nil }
        self.init(type: type)
    }
}

extension ChatRequest.Tool {
    fileprivate init?(scanning value: JSONValue) {
        guard let object = value.object else { return nil }
        let fields = Fields(object)
        guard let type = fields.require("type", \.string),
            let function = fields.read("function", { $0.object.flatMap { Fields($0).require("name", \.string) } })
        else { return nil }
        self.init(type: type, function: function.map(Function.init(name:)))
    }
}

extension ChatRequest.Stop {
    fileprivate init?(scanning value: JSONValue) {
        switch value {
        case .string(let text): self = .one(text)
        case .array(let items):
            guard let texts = items.mapAll(\.string) else { return nil }
            self = .many(texts)
        default: return nil
        }
    }
}

extension ChatRequest.ToolChoice {
    fileprivate init?(scanning value: JSONValue) {
        if let mode = value.string {
            self.init(name: mode)
        } else if let tool = ChatRequest.Tool(scanning: value) {
            self.init(name: tool.function?.name ?? "required")
        } else {
            return nil
        }
    }
}
