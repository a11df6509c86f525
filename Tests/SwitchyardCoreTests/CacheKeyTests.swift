// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import Testing

@testable import SwitchyardCore

/// Cache keys, the semantic index and the conversion between streamed and complete answers.
struct CacheKeyTests {
    static func key(_ body: String, namespace: String = "team:a") -> CacheFingerprint? {
        CacheFingerprint(body: Array(body.utf8), endpoint: .chatCompletions, namespace: namespace)
    }

    @Test("Keys ignore member order, whitespace, number spelling, user and stream; not what changes the answer")
    func exactKeys() throws {
        let base = try #require(
            Self.key(#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1,"seed":7}"#)
        )
        let same = try #require(
            Self.key(
                #" { "seed" : 7 , "temperature": 1.0, "stream": true, "stream_options": {"include_usage": true},"#
                    + #" "user": "u1", "metadata": {"a": "b"}, "messages": [{"content": "hi", "role": "user"}], "model": "m" }"#
            )
        )
        #expect(base.exact == same.exact)
        let changes = [
            #"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.9,"seed":7}"#,
            #"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1,"seed":8}"#,
            #"{"model":"n","messages":[{"role":"user","content":"hi"}],"temperature":1,"seed":7}"#,
            #"{"model":"m","messages":[{"role":"user","content":"hi!"}],"temperature":1,"seed":7}"#,
            #"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1,"seed":7,"tools":[]}"#,
            #"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1,"seed":7,"stop":["x"]}"#,
        ]
        for body in changes { #expect(try #require(Self.key(body)).exact != base.exact, "\(body)") }
        let otherTeam = try #require(
            Self.key(
                #"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1,"seed":7}"#,
                namespace: "team:b"
            )
        )
        #expect(otherTeam.exact != base.exact)
        #expect(
            CacheFingerprint(
                body: Array(#"{"model":"m","input":"hi"}"#.utf8),
                endpoint: .embeddings,
                namespace: "team:a"
            )?
            .exact
                != CacheFingerprint(
                    body: Array(#"{"model":"m","input":"hi"}"#.utf8),
                    endpoint: .chatCompletions,
                    namespace: "team:a"
                )?.exact
        )
        #expect(Self.key("[1,2]") == nil && Self.key("not json") == nil)
    }

    @Test("The context key leaves out only the last user turn's text, which becomes the prompt")
    func contextKeys() throws {
        let a = try #require(
            Self.key(
                #"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"How do I reset my password?"}]}"#
            )
        )
        let b = try #require(
            Self.key(
                #"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Steps to change my password?"}]}]}"#
            )
        )
        let otherSystem = try #require(
            Self.key(
                #"{"model":"m","messages":[{"role":"system","content":"Be long."},{"role":"user","content":"How do I reset my password?"}]}"#
            )
        )
        #expect(a.context != nil && a.context == b.context)
        #expect(a.context != otherSystem.context)
        #expect(a.prompt == "How do I reset my password?" && b.prompt == "Steps to change my password?")
        let image = try #require(
            Self.key(
                #"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"#
            )
        )
        #expect(image.context == nil && image.prompt == nil)
        #expect(try #require(Self.key(#"{"model":"m","messages":[],"temperature":0.2}"#)).temperature == 0.2)
    }

    static func unit(_ values: [Float]) -> [Float] {
        let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return values.map { $0 / norm }
    }

    @Test("The quantised index finds the nearest entry of a context above the threshold, with an agreeing signature")
    func semanticIndex() {
        var generator = SystemRandomNumberGenerator()
        let index = SemanticIndex(capacity: 1000)
        let stored = Self.unit((0..<384).map { _ in Float.random(in: -1...1, using: &generator) })
        let password = PromptSignature("How do I reset my password?")
        let expires = Date().addingTimeInterval(60)
        #expect(
            index.insert(
                key: "k",
                context: "c",
                vector: stored,
                signature: password,
                expiresAt: expires,
                namespace: "n",
                model: "m"
            )
        )
        for _ in 0..<200 {
            let other = Self.unit((0..<384).map { _ in Float.random(in: -1...1, using: &generator) })
            index.insert(
                key: UUID().uuidString,
                context: "c",
                vector: other,
                signature: password,
                expiresAt: expires,
                namespace: "n",
                model: "m"
            )
        }
        // A query close to the stored vector: cosine about 0.95.
        let noise = Self.unit((0..<384).map { _ in Float.random(in: -1...1, using: &generator) })
        let query = Self.unit(zip(stored, noise).map { $0 * 3 + $1 })
        let cosine = Double(zip(stored, query).reduce(0) { $0 + $1.0 * $1.1 })
        let match = index.nearest(context: "c", vector: query, signature: password, threshold: 0.9)
        #expect(match?.key == "k")
        #expect(abs((match?.similarity ?? 0) - cosine) < 0.02)
        #expect(
            index.nearest(context: "c", vector: query, signature: password, threshold: min(1, cosine + 0.03)) == nil
        )
        #expect(index.nearest(context: "other", vector: query, signature: password, threshold: 0.9) == nil)
        #expect(
            index.nearest(
                context: "c",
                vector: query,
                signature: PromptSignature("How do I reset my 2 passwords?"),
                threshold: 0.9
            ) == nil
        )
        #expect(index.nearest(context: "c", vector: query, signature: password, threshold: 0.9, now: expires) == nil)
        #expect(
            index.nearest(context: "c", vector: Array(query.prefix(100)), signature: password, threshold: 0.9) == nil
        )
        #expect(
            !index.insert(
                key: "x",
                context: "c",
                vector: [.nan, 1],
                signature: password,
                expiresAt: expires,
                namespace: "n",
                model: "m"
            )
        )
        index.remove(key: "k")
        #expect(index.nearest(context: "c", vector: query, signature: password, threshold: 0.9) == nil)
        #expect(index.removeAll(namespace: "n") == 200 && index.count == 0)
    }

    @Test("The index holds at most its capacity, the oldest leaving first")
    func indexCapacity() {
        let index = SemanticIndex(capacity: 3)
        let signature = PromptSignature("hello")
        for number in 0..<5 {
            var vector = [Float](repeating: 0, count: 8)
            vector[number] = 1
            index.insert(
                key: "k\(number)",
                context: "c",
                vector: vector,
                signature: signature,
                expiresAt: .distantFuture,
                namespace: "n",
                model: "m"
            )
        }
        #expect(index.count == 3)
        var first = [Float](repeating: 0, count: 8)
        first[0] = 1
        var last = [Float](repeating: 0, count: 8)
        last[4] = 1
        #expect(index.nearest(context: "c", vector: first, signature: signature, threshold: 0.9) == nil)
        #expect(index.nearest(context: "c", vector: last, signature: signature, threshold: 0.9)?.key == "k4")
    }

    @Test("Reading the store again adds nothing twice, and the eviction order stays bounded")
    func indexRefreshIsIdempotent() {
        let index = SemanticIndex(capacity: 100)
        let signature = PromptSignature("hello")
        for round in 0..<50 {
            for number in 0..<20 {
                var vector = [Float](repeating: 0.1, count: 16)
                vector[number % 16] = 1
                index.insert(
                    key: "k\(number)",
                    context: "c",
                    vector: vector,
                    signature: signature,
                    expiresAt: .distantFuture,
                    namespace: "n",
                    model: "m",
                    sequence: Int64(number + 1) + (round == 49 ? 100 : 0)
                )
            }
        }
        #expect(index.count == 20)
        // 49 rounds of the same sequence numbers were skipped; the last round replaced each entry once.
        #expect(index.orderLength <= 40)
        // A context keeps one vector length; another context may have its own.
        #expect(
            !index.insert(
                key: "x",
                context: "c",
                vector: [1, 0],
                signature: signature,
                expiresAt: .distantFuture,
                namespace: "n",
                model: "m"
            )
        )
        #expect(
            index.insert(
                key: "x",
                context: "d",
                vector: [1, 0],
                signature: signature,
                expiresAt: .distantFuture,
                namespace: "n",
                model: "m"
            )
        )
        #expect(index.nearest(context: "d", vector: [1, 0.01], signature: signature, threshold: 0.9)?.key == "x")
        // Replaced and removed entries leave the order compacted, not growing.
        for round in 0..<200 {
            index.insert(
                key: "churn\(round % 3)",
                context: "e",
                vector: [1, Float(round % 7)],
                signature: signature,
                expiresAt: .distantFuture,
                namespace: "n",
                model: "m"
            )
        }
        #expect(index.orderLength <= 2 * index.count + 1024)
    }

    @Test("Keys tell apart thinking budgets kept beside the body, provider preferences and embedding models")
    func keysBesideTheBody() throws {
        let body = Array(#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#.utf8)
        let plain = try #require(CacheFingerprint(body: body, endpoint: .chatCompletions, namespace: "n"))
        let budget = try #require(
            CacheFingerprint(
                body: body,
                endpoint: .chatCompletions,
                namespace: "n",
                beside: InboundReasoning(budgetTokens: 8000)
            )
        )
        let otherBudget = try #require(
            CacheFingerprint(
                body: body,
                endpoint: .chatCompletions,
                namespace: "n",
                beside: InboundReasoning(budgetTokens: 2000)
            )
        )
        #expect(Set([plain.exact, budget.exact, otherBudget.exact]).count == 3)
        let pinned = try #require(
            CacheFingerprint(
                body: Array(
                    #"{"model":"m","messages":[{"role":"user","content":"hi"}],"provider":{"only":["a"]}}"#.utf8
                ),
                endpoint: .chatCompletions,
                namespace: "n"
            )
        )
        #expect(pinned.exact != plain.exact)
        let otherEmbedding = try #require(
            CacheFingerprint(body: body, endpoint: .chatCompletions, namespace: "n", embeddingModel: "other")
        )
        #expect(otherEmbedding.context != plain.context && otherEmbedding.exact == plain.exact)
    }

    static func events(_ chunks: [String], done: Bool = true) -> [UInt8] {
        Array((chunks.map { "data: \($0)\n\n" }.joined() + (done ? "data: [DONE]\n\n" : "")).utf8)
    }

    @Test("A stream of text and tool-call deltas assembles into one completion, which replays as the same answer")
    func assembleAndReplay() throws {
        let head = #""id":"c1","object":"chat.completion.chunk","created":1,"model":"up""#
        let sse = Self.events([
            #"{\#(head),"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}"#,
            #"{\#(head),"choices":[{"index":0,"delta":{"content":"lo"}}]}"#,
            #"{\#(head),"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"get","arguments":"{\"a\""}}]}}]}"#,
            #"{\#(head),"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}"#,
            #"{\#(head),"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        ])
        let body = try #require(AnswerReplay.assemble(events: sse, usage: TokenUsage(inputTokens: 3, outputTokens: 5)))
        let response = try JSONDecoder().decode(OpenAIChat.Response.self, from: Data(body))
        #expect(response.object == "chat.completion" && response.id == "c1" && response.model == "up")
        let message = try #require(response.choices.first?.message)
        #expect(message.content?.text == "Hello")
        #expect(message.tool_calls?.first?.function.arguments == #"{"a":1}"#)
        #expect(message.tool_calls?.first?.id == "t1" && message.tool_calls?.first?.function.name == "get")
        #expect(response.choices.first?.finish_reason == "tool_calls")
        #expect(response.usage?.completion_tokens == 5)

        let replay = try #require(AnswerReplay.events(completion: body, piece: 2))
        let replayed = Array(replay.readableBytesView)
        #expect(String(decoding: replayed, as: UTF8.self).hasSuffix("data: [DONE]\n\n"))
        let again = try #require(
            AnswerReplay.assemble(events: replayed, usage: TokenUsage(inputTokens: 3, outputTokens: 5))
        )
        #expect(try JSONDecoder().decode(OpenAIChat.Response.self, from: Data(again)) == response)
    }

    @Test("A stream without a finish reason, or without text, replays as it was (found by FuzzCache)")
    func noFinishReason() throws {
        let chunk =
            #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]}"#
        let body = try #require(AnswerReplay.assemble(events: Self.events([chunk]), usage: nil))
        let replay = try #require(AnswerReplay.events(completion: body))
        let again = try #require(AnswerReplay.assemble(events: Array(replay.readableBytesView), usage: nil))
        let decoder = JSONDecoder()
        let original = try decoder.decode(OpenAIChat.Response.self, from: Data(body))
        #expect(original.choices.first?.finish_reason == nil)
        #expect(try decoder.decode(OpenAIChat.Response.self, from: Data(again)) == original)

        // Tool calls without text: no content, rather than an empty one, after a replay too.
        let call =
            #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#
        let tools = try #require(AnswerReplay.assemble(events: Self.events([call]), usage: nil))
        let toolsReplay = try #require(AnswerReplay.events(completion: tools))
        let toolsAgain = try #require(AnswerReplay.assemble(events: Array(toolsReplay.readableBytesView), usage: nil))
        let toolAnswer = try decoder.decode(OpenAIChat.Response.self, from: Data(tools))
        #expect(toolAnswer.choices.first?.message.content == nil)
        #expect(try decoder.decode(OpenAIChat.Response.self, from: Data(toolsAgain)) == toolAnswer)
    }

    @Test("Bounds: vectors over 8,192 dimensions, tool call indexes over 1,023 and prompt text past 100,000 characters")
    func bounds() {
        let longest = [Float](repeating: 0.5, count: SemanticIndex.maxDimensions)
        #expect(CachedAnswer.vector(fromBytes: CachedAnswer.vectorBytes(longest))?.count == SemanticIndex.maxDimensions)
        #expect(CachedAnswer.vector(fromBytes: CachedAnswer.vectorBytes(longest + [0.5])) == nil)
        #expect(CachedAnswer.vector(fromBytes: [1, 2, 3]) == nil)
        let index = SemanticIndex(capacity: 2)
        let signature = PromptSignature("hi")
        #expect(
            index.insert(
                key: "a",
                context: "c",
                vector: longest,
                signature: signature,
                expiresAt: .distantFuture,
                namespace: "n",
                model: "m"
            )
        )
        #expect(
            !index.insert(
                key: "b",
                context: "d",
                vector: longest + [0.5],
                signature: signature,
                expiresAt: .distantFuture,
                namespace: "n",
                model: "m"
            )
        )
        let embeddings =
            #"{"data":[{"embedding":["#
            + Array(repeating: "0.5", count: SemanticIndex.maxDimensions + 1).joined(separator: ",") + "]}]}"
        #expect(Dispatcher.firstEmbedding(Array(embeddings.utf8)) == nil)

        func toolCall(index: Int) -> [UInt8] {
            Self.events([
                #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":\#(index),"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]}}]}"#
            ])
        }
        #expect(AnswerReplay.assemble(events: toolCall(index: AnswerReplay.Limits.toolCalls - 1), usage: nil) != nil)
        #expect(AnswerReplay.assemble(events: toolCall(index: AnswerReplay.Limits.toolCalls), usage: nil) == nil)

        let padding = String(repeating: "a ", count: PromptSignature.maxCharacters / 2)
        #expect(PromptSignature(padding + "5 km").numbers.isEmpty)
        #expect(PromptSignature("5 km " + padding).numbers == ["5"])
    }

    @Test("Cut, broken or foreign streams are not assembled")
    func refusesIncompleteStreams() {
        let chunk =
            #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"x"}}]}"#
        #expect(AnswerReplay.assemble(events: Self.events([chunk]), usage: nil) != nil)
        #expect(AnswerReplay.assemble(events: Self.events([chunk], done: false), usage: nil) == nil)
        #expect(AnswerReplay.assemble(events: Self.events([chunk]) + Array("data: {".utf8), usage: nil) == nil)
        #expect(AnswerReplay.assemble(events: Self.events([#"{"error":{"message":"boom"}}"#]), usage: nil) == nil)
        #expect(AnswerReplay.assemble(events: Self.events([]), usage: nil) == nil)
        let farIndex = chunk.replacingOccurrences(of: #""index":0"#, with: #""index":100000"#)
        #expect(AnswerReplay.assemble(events: Self.events([farIndex]), usage: nil) == nil)
        #expect(AnswerReplay.events(completion: Array("[]".utf8)) == nil)
    }
}
