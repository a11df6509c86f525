// SPDX-License-Identifier: Apache-2.0

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// An OpenAI-compatible upstream on loopback for end-to-end tests, scripted by the model name.
///
/// It speaks the real wire format (JSON bodies, SSE with `data:` events and `[DONE]`) and records
/// every call, so tests assert how many upstream calls were made and what they carried.
///
/// | model             | behaviour                                                            |
/// |-------------------|----------------------------------------------------------------------|
/// | `ok`              | a completion (streamed when asked) with 10 input (4 cached), 20 output tokens |
/// | `gated-stream`    | streams one chunk, waits for ``openGate()``, then the rest            |
/// | `hang-stream`     | streams one chunk, then waits until the gateway hangs up             |
/// | `broken-stream`   | streams one chunk, then ends the body without `[DONE]`                |
/// | `rate-limited`    | 429 with `Retry-After: 0`                                            |
/// | `server-error`    | 500                                                                  |
/// | `bad-json`        | 200 with a body that is not JSON                                     |
/// | `bad-request`     | 400 with an OpenAI error                                             |
/// | `unauthorized`    | 401                                                                  |
/// | `embed`           | an embeddings list, 2-dimensional vectors                             |
public final class FakeOpenAIUpstream: Sendable {
    /// One call the upstream received.
    public struct RecordedCall: Sendable {
        /// The `model` of the body.
        public var model: String
        /// The body's top-level members, each value rendered as text.
        public var body: [String: any Sendable]
        /// The body exactly as received.
        public var rawBody: String
        /// The `Authorization` header.
        public var authorization: String?
        /// The path called.
        public var path: String
        /// Every header, by lowercased name (the last value of a repeated one).
        public var headers: [String: String] = [:]
    }

    private let recorded = Mutex<[RecordedCall]>([])
    private let gate: AsyncStream<Void>
    private let gateContinuation: AsyncStream<Void>.Continuation
    /// Yields once for every streamed request whose client (the gateway) went away mid-stream.
    public let cancellations: AsyncStream<Void>
    private let cancellationContinuation: AsyncStream<Void>.Continuation

    /// Creates an upstream with no calls recorded.
    public init() {
        (self.gate, self.gateContinuation) = AsyncStream.makeStream()
        (self.cancellations, self.cancellationContinuation) = AsyncStream.makeStream()
    }

    /// Every call so far, in order.
    public var calls: [RecordedCall] { self.recorded.withLock { $0 } }

    /// The models of the calls so far, in order.
    public var calledModels: [String] { self.calls.map(\.model) }

    /// Lets a `gated-stream` response continue.
    public func openGate() { self.gateContinuation.yield() }

    /// The upstream as a Hummingbird application on 127.0.0.1 with an ephemeral port.
    public func makeApplication() -> some ApplicationProtocol {
        let router = Router()
        router.post("/v1/chat/completions") { request, context in try await self.chat(request, context: context) }
        router.post("/v1/embeddings") { request, context in try await self.embeddings(request, context: context) }
        var logger = Logger(label: "fake-upstream")
        logger.logLevel = .warning
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: logger
        )
    }

    private func record(_ request: inout Request, path: String) async throws -> (String, [String: Any]) {
        let body = try await request.collectBody(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
        let model = object["model"] as? String ?? ""
        let sendable = object.mapValues { "\($0)" as any Sendable }
        self.recorded.withLock {
            $0.append(
                RecordedCall(
                    model: model,
                    body: sendable,
                    rawBody: String(buffer: body),
                    authorization: request.headers[.authorization],
                    path: path,
                    headers: Dictionary(
                        request.headers.map { ($0.name.canonicalName, $0.value) },
                        uniquingKeysWith: { $1 }
                    )
                )
            )
        }
        return (model, object)
    }

    private func embeddings(_ request: Request, context: some RequestContext) async throws -> Response {
        var request = request
        let (model, _) = try await self.record(&request, path: "/v1/embeddings")
        return Self.json(
            #"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,0.8]}],"model":"\#(model)","usage":{"prompt_tokens":3,"total_tokens":3}}"#
        )
    }

    private func chat(_ request: Request, context: some RequestContext) async throws -> Response {
        var request = request
        let (model, object) = try await self.record(&request, path: "/v1/chat/completions")
        let streaming = object["stream"] as? Bool ?? false
        let includeUsage = (object["stream_options"] as? [String: Any])?["include_usage"] as? Bool ?? false
        switch model {
        case "rate-limited":
            return Self.error(status: .tooManyRequests, message: "Rate limit reached", headers: [.retryAfter: "0"])
        case "server-error":
            return Self.error(status: .internalServerError, message: "The server had an error")
        case "bad-request":
            return Self.error(status: .badRequest, message: "Invalid value for 'temperature'")
        case "unauthorized":
            return Self.error(status: .unauthorized, message: "Incorrect API key provided")
        case "bad-json":
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: "<html>oops"))
            )
        default:
            break
        }
        guard streaming else { return Self.json(Self.completion(model: model)) }

        let events = Self.streamEvents(model: model, includeUsage: includeUsage)
        let gate = self.gate
        let cancelled = self.cancellationContinuation
        let inbound = request
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream"],
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: events[0]))
                switch model {
                case "gated-stream":
                    var iterator = gate.makeAsyncIterator()
                    _ = await iterator.next()
                case "hang-stream":
                    do {
                        try await inbound.body.consumeWithCancellationOnInboundClose { _ in
                            try await Task.sleep(for: .seconds(60))
                        }
                    } catch {
                        cancelled.yield()
                        return
                    }
                case "broken-stream":
                    try await writer.finish(nil)
                    return
                default:
                    break
                }
                for event in events.dropFirst() { try await writer.write(ByteBuffer(string: event)) }
                try await writer.finish(nil)
            }
        )
    }

    /// The non-streamed completion every `ok` call returns.
    public static func completion(model: String) -> String {
        #"{"id":"chatcmpl-fake","object":"chat.completion","created":1700000000,"model":"\#(model)","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from upstream"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30,"prompt_tokens_details":{"cached_tokens":4}}}"#
    }

    static func streamEvents(model: String, includeUsage: Bool) -> [String] {
        let usageField = includeUsage ? #","usage":null"# : ""
        var events = ["Hel", "lo", " there"].map { piece in
            "data: {\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"\(model)\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\(piece)\"},\"finish_reason\":null}]\(usageField)}\n\n"
        }
        events.append(
            "data: {\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"\(model)\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]\(usageField)}\n\n"
        )
        if includeUsage {
            events.append(
                "data: {\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"\(model)\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":20,\"total_tokens\":30,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n"
            )
        }
        events.append("data: [DONE]\n\n")
        return events
    }

    private static func json(_ text: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    private static func error(status: HTTPResponse.Status, message: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        let body = #"{"error":{"message":"\#(message)","type":"fake_error","param":null,"code":null}}"#
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
