// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import SwitchyardCore

/// What a dialect that does not speak OpenAI's format implements: its requests, answers, stream
/// and errors, translated to and from the typed OpenAI model (``OpenAIChat``).
///
/// ``TranslatingProvider`` does the rest (decoding the client's request, the HTTP call, framing the
/// translated stream as OpenAI server-sent events), so a new dialect writes only its own format.
public protocol ChatTranslator: Sendable {
    /// The reader of this dialect's streamed answers.
    associatedtype StreamReader: ChatStreamReader

    /// How the upstream is reached: root, keys, extra headers, proxy.
    var access: UpstreamAccess { get }

    /// The upstream request for `request` on `route` (its upstream model, output limit, ...); throws
    /// ``ProviderError`` (`invalidRequest`) for what the dialect cannot express.
    func makeChatRequest(_ request: OpenAIChat.Request, route: Route) throws -> UpstreamHTTPRequest
    /// The provider's complete answer in OpenAI's shape; throws ``ProviderError`` (`invalidResponse`)
    /// when the body is not what the dialect promises.
    func readChatResponse(_ body: [UInt8], upstreamModel: String) throws -> OpenAIChat.Response
    /// A reader for one streamed answer.
    func makeStreamReader(upstreamModel: String) -> StreamReader
    /// Describes a failed upstream answer.
    func parseError(status: Int, headers: [(String, String)], body: [UInt8]) -> ProviderError

    /// The upstream request for embeddings, or `nil` when the dialect has none.
    func makeEmbeddingsRequest(_ request: EmbeddingsRequest, upstreamModel: String) throws -> UpstreamHTTPRequest?
    /// The provider's embeddings answer in OpenAI's shape (JSON bytes).
    func readEmbeddingsResponse(_ body: [UInt8], request: EmbeddingsRequest, upstreamModel: String) throws -> [UInt8]
}

extension ChatTranslator {
    /// No embeddings.
    public func makeEmbeddingsRequest(
        _ request: EmbeddingsRequest,
        upstreamModel: String
    ) throws
        -> UpstreamHTTPRequest?
    { nil }
    /// Never called without ``makeEmbeddingsRequest(_:upstreamModel:)``.
    public func readEmbeddingsResponse(
        _ body: [UInt8],
        request: EmbeddingsRequest,
        upstreamModel: String
    ) throws -> [UInt8] { body }
}

/// Turns one streamed answer of a dialect into OpenAI chunks, piece by piece.
public protocol ChatStreamReader: Sendable {
    /// The chunks `bytes` complete; throws ``ProviderError`` for an error event or malformed input.
    mutating func read(_ bytes: ByteBuffer) throws -> [OpenAIChat.Chunk]
    /// Called when the upstream ends: the last chunks, or a ``ProviderError`` when the stream ended
    /// before the dialect's end marker.
    mutating func finish() throws -> [OpenAIChat.Chunk]
}

/// A provider whose dialect is translated: it answers in OpenAI's format like every other.
public struct TranslatingProvider<Translator: ChatTranslator>: Provider {
    /// The provider's configured name.
    public let name: String
    /// The dialect's translation.
    public let translator: Translator
    /// Sends requests.
    public let transport: HTTPTransport
    /// The keys a 429 rotates through.
    public var keyCount: Int { self.translator.access.keyCount }
    /// A team's own key replaces the configured one (a Bedrock API key replaces request signing).
    public var acceptsOwnKey: Bool { true }

    /// Creates a provider.
    public init(name: String, translator: Translator, transport: HTTPTransport) {
        self.name = name
        self.translator = translator
        self.transport = transport
    }

    /// Translates the request, makes the call, and translates the answer back.
    public func chat(_ request: ChatRequest, on route: Route, context: UpstreamContext) async throws -> UpstreamResponse
    {
        var typed: OpenAIChat.Request
        do {
            typed = try OpenAIChat.Request(body: request.body)
            typed.inboundReasoning = request.inboundReasoning
        } catch {
            throw ProviderError(kind: .invalidRequest, status: 400, message: error.message)
        }
        let upstream = try self.translator.makeChatRequest(typed, route: route)
        let translator = self.translator
        let answer = try await self.transport.send(upstream, streaming: request.isStreaming, context: context) {
            translator.parseError(status: $0, headers: $1, body: $2)
        }
        switch answer {
        case .complete(let body):
            if request.isStreaming {
                // Some servers answer a stream request with one JSON body: replay it as a stream.
                let response = try translator.readChatResponse(
                    Array(body.readableBytesView),
                    upstreamModel: route.upstreamModel
                )
                return .stream(ByteStream(try TranslatedEvents<Translator.StreamReader>.replay(response)))
            }
            let response = try translator.readChatResponse(
                Array(body.readableBytesView),
                upstreamModel: route.upstreamModel
            )
            return .complete(ByteBuffer(bytes: try TranslatedJSON.encode(response)))
        case .stream(let bytes):
            return .stream(
                ByteStream(
                    TranslatedEvents(
                        upstream: bytes,
                        reader: translator.makeStreamReader(upstreamModel: route.upstreamModel)
                    ),
                    cancel: bytes.cancel
                )
            )
        }
    }

    /// Translates an embeddings call, when the dialect offers embeddings.
    public func embeddings(
        _ request: EmbeddingsRequest,
        on route: Route,
        context: UpstreamContext
    ) async throws -> UpstreamResponse {
        guard let upstream = try self.translator.makeEmbeddingsRequest(request, upstreamModel: route.upstreamModel)
        else {
            throw ProviderError(
                kind: .invalidRequest,
                status: 400,
                message: "provider `\(self.name)` offers no embeddings API"
            )
        }
        let translator = self.translator
        let answer = try await self.transport.send(upstream, streaming: false, context: context) {
            translator.parseError(status: $0, headers: $1, body: $2)
        }
        guard case .complete(let body) = answer else {
            throw ProviderError(kind: .invalidResponse, message: "the embeddings answer was a stream")
        }
        let translated = try translator.readEmbeddingsResponse(
            Array(body.readableBytesView),
            request: request,
            upstreamModel: route.upstreamModel
        )
        return .complete(ByteBuffer(bytes: translated))
    }

}

/// OpenAI server-sent events made from a dialect's stream, ending with `data: [DONE]`.
struct TranslatedEvents<Reader: ChatStreamReader>: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let upstream: ByteStream
    let reader: Reader

    func makeAsyncIterator() -> Iterator {
        Iterator(upstream: self.upstream.makeAsyncIterator(), reader: self.reader)
    }

    struct Iterator: AsyncIteratorProtocol {
        var upstream: ByteStream.Iterator
        var reader: Reader
        var finished = false

        mutating func next() async throws -> ByteBuffer? {
            while !self.finished {
                guard let bytes = try await self.upstream.next() else {
                    self.finished = true
                    var out = try Self.frame(self.reader.finish())
                    out.writeString("data: [DONE]\n\n")
                    return out
                }
                let chunks = try self.reader.read(bytes)
                // Nothing complete yet: read on rather than send an empty write.
                if !chunks.isEmpty { return try Self.frame(chunks) }
            }
            return nil
        }

        static func frame(_ chunks: [OpenAIChat.Chunk]) throws -> ByteBuffer {
            var out = ByteBuffer()
            for chunk in chunks {
                out.writeString("data: ")
                out.writeBytes(try TranslatedJSON.encode(chunk))
                out.writeString("\n\n")
            }
            return out
        }
    }

    /// A complete answer replayed as one stream: a chunk per choice, then the usage chunk.
    static func replay(_ response: OpenAIChat.Response) throws -> AsyncThrowingStream<ByteBuffer, any Error> {
        let choices = response.choices.map { choice in
            OpenAIChat.Chunk(
                id: response.id,
                created: response.created,
                model: response.model,
                choices: [
                    OpenAIChat.ChunkChoice(
                        index: choice.index,
                        delta: OpenAIChat.Delta(
                            role: "assistant",
                            content: choice.message.content?.text,
                            tool_calls: choice.message.tool_calls?.enumerated().map {
                                OpenAIChat.ToolCallDelta(
                                    index: $0.offset,
                                    id: $0.element.id,
                                    name: $0.element.function.name,
                                    arguments: $0.element.function.arguments
                                )
                            }
                        ),
                        finish_reason: choice.finish_reason
                    )
                ]
            )
        }
        let usage = OpenAIChat.Chunk(
            id: response.id,
            created: response.created,
            model: response.model,
            choices: [],
            usage: response.usage
        )
        var events = try Iterator.frame(choices + [usage])
        events.writeString("data: [DONE]\n\n")
        let (stream, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        continuation.yield(events)
        continuation.finish()
        return stream
    }
}

/// JSON encoding of translated requests and answers.
enum TranslatedJSON {
    // Unsorted keys: sorting every object's members is measurable per call, and nothing compares these bytes.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    /// The compact JSON of `value`; a failure is the upstream's (its answer could not be represented).
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        do {
            return Array(try Self.encoder.encode(value))
        } catch {
            throw ProviderError(kind: .invalidResponse, message: "the translated answer could not be encoded")
        }
    }
}
