// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// The cache keys of one request.
///
/// The exact key hashes the request as its meaning, not its bytes: member order and whitespace do
/// not count, numbers count by value (`1` and `1.0` are equal), and members that do not change the
/// answer (`user`, `stream`, `stream_options`, `metadata`, `provider`, `store`) are left out. The
/// namespace and the endpoint are hashed first, so tenants and endpoints never share a key.
///
/// For chat requests whose last user turn is plain text, the context key hashes everything but
/// that turn's content (system prompt, earlier turns, tools, sampling parameters): a semantic
/// answer needs an equal context and a similar last user turn.
public struct CacheFingerprint: Sendable, Equatable {
    /// Hex SHA-256 of the whole normalised request.
    public var exact: String
    /// Hex SHA-256 of the request without its last user turn's content, when that turn is plain text.
    public var context: String?
    /// The last user turn's text, when it is plain text.
    public var prompt: String?
    /// The request's `temperature`; `nil` when absent (the provider's default, 1 for OpenAI).
    public var temperature: Double?

    /// Members that do not change the answer. (`provider` does: it can ask for one provider's answer.)
    static let ignoredMembers: Set<String> = ["user", "stream", "stream_options", "metadata", "store"]

    /// The keys of `body` sent to `endpoint` by a caller in `namespace`; `nil` when the body is not a JSON object.
    ///
    /// - Parameters:
    ///   - beside: what the request states outside its body (`/v1/messages`' exact thinking budget and
    ///     signed thinking blocks), hashed into both keys.
    ///   - embeddingModel: the model that embeds prompts, hashed into the context key: vectors of two
    ///     models are never compared.
    public init?(
        body: [UInt8],
        endpoint: Call.Endpoint,
        namespace: String,
        beside: InboundReasoning = InboundReasoning(),
        embeddingModel: String = ""
    ) {
        guard let object = JSONValue.parse(body)?.object else { return nil }
        var exact = Canonical()
        exact.prefix(namespace: namespace, endpoint: endpoint.rawValue)
        exact.reasoning(beside)
        exact.object(object, skipping: Self.ignoredMembers)
        self.exact = exact.hex()
        self.temperature = object["temperature"]?.double

        guard endpoint != .embeddings, case .array(let messages)? = object["messages"],
            let last = messages.lastIndex(where: { $0.object?["role"]?.string == "user" }),
            let turn = messages[last].object, let text = Self.plainText(turn["content"])
        else { return }
        var context = Canonical()
        context.prefix(namespace: namespace, endpoint: endpoint.rawValue + "/context")
        context.string(embeddingModel)
        context.reasoning(beside)
        var withoutTurn = object
        var trimmed = messages
        var turnWithoutContent = turn
        turnWithoutContent["content"] = .null
        trimmed[last] = .object(turnWithoutContent)
        withoutTurn["messages"] = .array(trimmed)
        context.object(withoutTurn, skipping: Self.ignoredMembers)
        self.context = context.hex()
        self.prompt = text
    }

    /// The text of a message content that holds only text (a string, or text parts).
    static func plainText(_ content: JSONValue?) -> String? {
        switch content {
        case .string(let text): return text
        case .array(let parts):
            var texts: [String] = []
            for part in parts {
                guard let part = part.object, part["type"]?.string == "text", let text = part["text"]?.string else {
                    return nil
                }
                texts.append(text)
            }
            return texts.isEmpty ? nil : texts.joined(separator: "\n")
        default: return nil
        }
    }

    /// A hash of JSON values by meaning: each value is written with a type tag and a length, so no two
    /// different documents write the same bytes.
    struct Canonical {
        var hasher = SHA256()

        mutating func prefix(namespace: String, endpoint: String) {
            self.string(namespace)
            self.string(endpoint)
        }

        /// The thinking budget and blocks kept beside a translated body, in message order.
        mutating func reasoning(_ reasoning: InboundReasoning) {
            self.tag(reasoning.budgetTokens == nil ? "-" : "b")
            if let budget = reasoning.budgetTokens { self.integer(UInt64(bitPattern: Int64(budget))) }
            self.integer(UInt64(reasoning.blocks.count))
            for index in reasoning.blocks.keys.sorted() {
                self.integer(UInt64(bitPattern: Int64(index)))
                let blocks = reasoning.blocks[index] ?? []
                self.integer(UInt64(blocks.count))
                for block in blocks {
                    // JSONNode has no canonical writer of its own: sorted-key JSON stands in for it.
                    let text = (try? JSONDecoderFactory.encoder.encode(block)).map {
                        String(decoding: $0, as: UTF8.self)
                    }
                    self.string(text ?? "")
                }
            }
        }

        mutating func value(_ value: JSONValue) {
            switch value {
            case .null: self.tag("z")
            case .bool(let flag): self.tag(flag ? "t" : "f")
            case .string(let text):
                self.tag("s")
                self.string(text)
            case .number(let text):
                // By value, so `1`, `1.0` and `1e0` agree; integers past 2^53 keep their digits.
                if let number = Double(text), number.isFinite, abs(number) < 9e15 {
                    self.tag("n")
                    self.integer(number.bitPattern == (-0.0).bitPattern ? 0 : number.bitPattern)
                } else {
                    self.tag("N")
                    self.string(text)
                }
            case .array(let items):
                self.tag("a")
                self.integer(UInt64(items.count))
                for item in items { self.value(item) }
            case .object(let members):
                self.object(members, skipping: [])
            }
        }

        mutating func object(_ members: [String: JSONValue], skipping: Set<String>) {
            let names = members.keys.filter { !skipping.contains($0) }.sorted()
            self.tag("o")
            self.integer(UInt64(names.count))
            for name in names {
                self.string(name)
                self.value(members[name]!)
            }
        }

        mutating func tag(_ tag: Unicode.Scalar) { self.hasher.update(data: [UInt8(ascii: tag)]) }

        mutating func integer(_ value: UInt64) {
            withUnsafeBytes(of: value.littleEndian) { self.hasher.update(bufferPointer: $0) }
        }

        mutating func string(_ text: String) {
            var text = text
            text.withUTF8 { bytes in
                self.integer(UInt64(bytes.count))
                self.hasher.update(bufferPointer: UnsafeRawBufferPointer(bytes))
            }
        }

        func hex() -> String { Hex.lowercase(Array(self.hasher.finalize())) }
    }
}
