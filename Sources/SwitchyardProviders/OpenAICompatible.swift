// SPDX-License-Identifier: Apache-2.0

import Foundation
import HTTPTypes
import NIOCore
import SwitchyardCore

/// Speaks the OpenAI Chat Completions and Embeddings APIs, for OpenAI and every compatible server.
///
/// Groq, Together, DeepSeek, xAI, Mistral, vLLM, Ollama and others differ only by `base_url`
/// and key, so they are configuration, not code. The client's body is forwarded as it came,
/// with two edits made in place: `model` becomes the route's upstream model, and streams ask for
/// the usage chunk so every call can be priced.
public struct OpenAICompatibleAdapter: Sendable {
    /// API root including `/v1`.
    public var baseURL: String
    /// Provider key; `nil` sends no `Authorization` header.
    public var apiKey: String?
    /// Extra headers from the configuration.
    public var extraHeaders: [String: String]
    /// The proxy upstream calls tunnel through, if any.
    public var proxy: UpstreamProxy?

    /// Creates an adapter.
    public init(baseURL: String, apiKey: String?, extraHeaders: [String: String] = [:], proxy: UpstreamProxy? = nil) {
        self.proxy = proxy
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        // `none` is how configs say "this server takes no key" (vLLM, Ollama).
        self.apiKey = apiKey.flatMap { $0.isEmpty || $0 == "none" ? nil : $0 }
        self.extraHeaders = extraHeaders
    }

    /// The upstream request for a chat completion.
    public func makeChatRequest(_ request: ChatRequest, upstreamModel: String) throws -> UpstreamHTTPRequest {
        var body = try JSONObjectEditor(request.body)
        if request.model != upstreamModel { try body.set("model", json: JSONText.string(upstreamModel)) }
        if request.isStreaming && !request.includesUsage {
            // `stream_options` may be absent or null; anything but an object is replaced.
            let existing = body.value("stream_options").flatMap { $0.first == UInt8(ascii: "{") ? Array($0) : nil }
            var options = try JSONObjectEditor(existing ?? Array("{}".utf8))
            try options.set("include_usage", json: Array("true".utf8))
            try body.set("stream_options", json: options.bytes)
        }
        return self.request("/chat/completions", body: body.bytes)
    }

    /// The upstream request for embeddings.
    public func makeEmbeddingsRequest(_ request: EmbeddingsRequest, upstreamModel: String) throws -> UpstreamHTTPRequest
    {
        var body = try JSONObjectEditor(request.body)
        if request.model != upstreamModel { try body.set("model", json: JSONText.string(upstreamModel)) }
        return self.request("/embeddings", body: body.bytes)
    }

    /// Describes a failed upstream response.
    public func parseError(status: Int, headers: [(String, String)], body: [UInt8]) -> ProviderError {
        struct Envelope: Decodable {
            struct Body: Decodable { var message: String? }
            var error: Body?
        }
        // JSONDecoder traps on some bodies nested past its limit: an upstream must not be able to end the process.
        let decoded =
            JSONText.nestsTooDeeply(body)
            ? nil : try? JSONDecoderFactory.decoder.decode(Envelope.self, from: Data(body))
        let message = decoded?.error?.message ?? String(decoding: body.prefix(300), as: UTF8.self)
        let retryAfter = RetryAfter.read(headers)
        if case .invalid(let reason) = retryAfter {
            // A malformed answer: not worth retrying on this route, so the next one is tried.
            return ProviderError(kind: .invalidResponse, status: status, message: "\(message) (malformed \(reason))")
        }
        return ProviderError(
            kind: ProviderError.kind(forStatus: status),
            status: status,
            message: message,
            retryAfter: retryAfter.wait
        )
    }

    /// A POST of `body` to `path` under the base URL, with the provider's headers and proxy.
    private func request(_ path: String, body: [UInt8]) -> UpstreamHTTPRequest {
        UpstreamHTTPRequest(url: self.baseURL + path, headers: self.headers(), body: body, proxy: self.proxy)
    }

    private func headers() -> [(String, String)] {
        var headers = [("content-type", "application/json"), ("accept", "application/json, text/event-stream")]
        if let apiKey = self.apiKey { headers.append(("authorization", "Bearer \(apiKey)")) }
        headers += self.extraHeaders.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return headers
    }
}

/// An HTTP request an adapter wants made: always a POST of a JSON body.
public struct UpstreamHTTPRequest: Sendable, Equatable {
    /// Full URL.
    public var url: String
    /// Headers, credentials included (never log them).
    public var headers: [(String, String)]
    /// The JSON body.
    public var body: [UInt8]
    /// The proxy to tunnel through, if any.
    public var proxy: UpstreamProxy?

    /// Creates a request.
    public init(url: String, headers: [(String, String)], body: [UInt8], proxy: UpstreamProxy? = nil) {
        self.url = url
        self.headers = headers
        self.body = body
        self.proxy = proxy
    }

    /// Compares URL, body, headers and proxy.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.url == rhs.url && lhs.body == rhs.body && lhs.proxy == rhs.proxy
            && lhs.headers.elementsEqual(rhs.headers) { $0 == $1 }
    }
}

/// An OpenAI-compatible provider reached over HTTP.
public struct OpenAICompatibleProvider: Provider {
    /// The provider's configured name.
    public let name: String
    /// Builds requests and reads errors.
    public let adapter: OpenAICompatibleAdapter
    /// Sends requests.
    public let transport: HTTPTransport

    /// Creates a provider.
    public init(name: String, adapter: OpenAICompatibleAdapter, transport: HTTPTransport) {
        self.name = name
        self.adapter = adapter
        self.transport = transport
    }

    /// Forwards a chat completion.
    public func chat(_ request: ChatRequest, on route: Route, context: UpstreamContext) async throws -> UpstreamResponse
    {
        let upstream = try self.adapter.makeChatRequest(request, upstreamModel: route.upstreamModel)
        return try await self.transport.send(upstream, streaming: request.isStreaming, context: context) {
            self.adapter.parseError(status: $0, headers: $1, body: $2)
        }
    }

    /// Forwards an embeddings call.
    public func embeddings(
        _ request: EmbeddingsRequest,
        on route: Route,
        context: UpstreamContext
    ) async throws
        -> UpstreamResponse
    {
        let upstream = try self.adapter.makeEmbeddingsRequest(request, upstreamModel: route.upstreamModel)
        return try await self.transport.send(upstream, streaming: false, context: context) {
            self.adapter.parseError(status: $0, headers: $1, body: $2)
        }
    }
}
