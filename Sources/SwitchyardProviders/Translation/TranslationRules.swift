// SPDX-License-Identifier: Apache-2.0

import NIOCore
import SwitchyardCore

/// What every translating dialect does the same way: refusing what it cannot express, reading
/// tool-call arguments, merging consecutive turns, and walking content parts.
struct TranslationRules {
    /// The provider's name in messages (`Anthropic`, `Gemini`).
    let provider: String

    /// The route cannot serve `parameter`: the dispatcher skips it (and answers 400 when no route is left).
    func refusal(_ parameter: String, _ why: String) -> ProviderError {
        ProviderError(
            kind: .unsupported,
            status: 400,
            message: "`\(parameter)` \(why) on \(self.provider) routes",
            param: parameter
        )
    }

    /// The provider's JSON answer (or event) as `T`; anything else makes the answer malformed.
    func answer<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>, _ what: String) throws -> T {
        guard let value = JSONText.decode(T.self, from: bytes) else {
            throw ProviderError(kind: .invalidResponse, message: "\(what) is not what the \(self.provider) API sends")
        }
        return value
    }

    /// Throws for the first parameter in `unsupported` the request sets to something other than its default.
    func refuseUnsupported(_ request: OpenAIChat.Request, _ unsupported: Set<String>) throws {
        let set: [(String, Bool)] = [
            ("n", (request.n ?? 1) > 1),
            ("logprobs", request.logprobs == true), ("top_logprobs", request.top_logprobs != nil),
            ("logit_bias", !(request.logit_bias ?? [:]).isEmpty), ("seed", request.seed != nil),
            ("presence_penalty", (request.presence_penalty ?? 0) != 0),
            ("frequency_penalty", (request.frequency_penalty ?? 0) != 0),
            ("parallel_tool_calls", request.parallel_tool_calls == false),
        ]
        if let (name, _) = set.first(where: { unsupported.contains($0.0) && $0.1 }) {
            throw self.refusal(name, "is not supported")
        }
    }

    /// The arguments of `call` (message `message`, call `index`) as a JSON object, or a 400 naming the field.
    func arguments(of call: OpenAIChat.ToolCall, message: Int, index: Int) throws -> JSONNode {
        let text = call.function.arguments.isEmpty ? "{}" : call.function.arguments
        guard let arguments = JSONNode(parsing: Array(text.utf8)), case .object = arguments else {
            throw ProviderError(
                kind: .invalidRequest,
                status: 400,
                message: "`messages[\(message)].tool_calls[\(index)].function.arguments` is not a JSON object"
            )
        }
        return arguments
    }

    /// The system items and the turns of a conversation, for dialects that lift system prompts out of
    /// the turns, require alternating roles (consecutive turns of one role become one), and take tool
    /// results in user turns. `content` translates a message's content, `toolCall` an assistant's call
    /// with its parsed arguments, `toolResult` a `tool` message; `assistantPrefix` gives what goes
    /// before an assistant turn's content (its preserved reasoning, for dialects that take it back).
    func conversation<Turn: AlternatingTurn>(
        _ request: OpenAIChat.Request,
        assistantRole: String,
        assistantPrefix: (_ message: Int) -> [Turn.Item] = { _ in [] },
        content: (OpenAIChat.Content?, _ message: Int) throws -> [Turn.Item],
        toolCall: (OpenAIChat.ToolCall, _ arguments: JSONNode) -> Turn.Item,
        toolResult: (OpenAIChat.Message, _ message: Int) throws -> Turn.Item
    ) throws -> (system: [Turn.Item], turns: [Turn]) {
        var system: [Turn.Item] = []
        var turns: [Turn] = []
        for (index, message) in request.messages.enumerated() {
            switch message.role {
            case "system", "developer":
                system += try content(message.content, index)
            case "user":
                turns.appendTurn("user", try content(message.content, index))
            case "assistant":
                var items = assistantPrefix(index) + (try content(message.content, index))
                for (callIndex, call) in (message.tool_calls ?? []).enumerated() {
                    items.append(toolCall(call, try self.arguments(of: call, message: index, index: callIndex)))
                }
                turns.appendTurn(assistantRole, items)
            case "tool", "function":
                turns.appendTurn("user", [try toolResult(message, index)])
            default:
                throw self.refusal("messages[\(index)].role", "`\(message.role)` is not supported")
            }
        }
        return (system, turns)
    }

    /// The content's parts, each turned into the dialect's form by `translate`; a plain string is one
    /// text part, and a part kind `translate` returns `nil` for is a 400 naming it.
    func parts<Part>(
        _ content: OpenAIChat.Content?,
        message: Int,
        _ translate: (OpenAIChat.ContentPart, _ image: OpenAIChat.ImageURL?) -> Part?
    ) throws -> [Part] {
        guard let content else { return [] }
        if case .text(let text) = content, text.isEmpty { return [] }
        return try content.parts.enumerated().map { index, part in
            if part.type == "image_url", part.image_url == nil {
                throw ProviderError(
                    kind: .invalidRequest,
                    status: 400,
                    message: "`messages[\(message)].content[\(index)].image_url` is required"
                )
            }
            guard let translated = translate(part, part.image_url) else {
                throw self.refusal("messages[\(message)].content[\(index)].type", "`\(part.type)` is not supported")
            }
            return translated
        }
    }
}

/// A conversation turn of a dialect that requires alternating roles.
protocol AlternatingTurn {
    /// What a turn holds (blocks, parts).
    associatedtype Item
    /// The turn's role.
    var turnRole: String? { get }
    /// The turn's items.
    var items: [Item] { get set }
    /// A turn of `role` holding `items`.
    init(turnRole: String, items: [Item])
}

extension Array where Element: AlternatingTurn {
    /// Appends `items` as a turn of `role`, merged into the last turn when that has the same role.
    mutating func appendTurn(_ role: String, _ items: [Element.Item]) {
        guard !items.isEmpty else { return }
        if let last = self.indices.last, self[last].turnRole == role {
            self[last].items += items
        } else {
            self.append(Element(turnRole: role, items: items))
        }
    }
}

extension SSEDecoder {
    /// The events `bytes` complete; an event beyond the size limit makes the upstream's answer malformed.
    mutating func upstreamEvents(in bytes: ByteBuffer) throws -> [ServerSentEvent] {
        do {
            return try self.feed(bytes.readableBytesView)
        } catch {
            throw ProviderError(kind: .invalidResponse, message: "a stream event exceeds \(error.limit) bytes")
        }
    }
}

extension TokenUsage {
    /// An upstream's token counts, absent ones as 0; a negative or absurd count makes the answer
    /// malformed (it would overflow sums downstream).
    static func upstreamCounts(_ counts: Int?...) throws -> [Int] {
        let values = counts.map { $0 ?? 0 }
        guard values.allSatisfy({ (0...Self.maxTokensPerCall).contains($0) }) else {
            throw ProviderError(kind: .invalidResponse, message: "the answer's usage counts are out of range")
        }
        return values
    }

    /// Usage from counts whose `input` excludes cache reads and cache writes (Anthropic, Bedrock): the
    /// gateway's input is all three.
    static func excludingCache(input: Int?, cacheRead: Int?, cacheWrite: Int?, output: Int?) throws -> TokenUsage {
        let counts = try Self.upstreamCounts(input, cacheRead, cacheWrite, output)
        return TokenUsage(
            inputTokens: counts[0] + counts[1] + counts[2],
            cachedInputTokens: counts[1],
            cacheWriteTokens: counts[2],
            outputTokens: counts[3]
        )
    }
}
