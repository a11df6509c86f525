// SPDX-License-Identifier: Apache-2.0

import Foundation
import HTTPTypes
import NIOCore
import SwitchyardCore

/// The `openai` dialect: OpenAI and every server that speaks its API.
///
/// - Configuration: the common keys only; `base_url` includes `/v1` and defaults to the
///   ``KnownProvider`` of the same name, else `https://api.openai.com/v1`.
/// - Embedded default: each ``KnownProvider`` whose key variable is set.
public struct OpenAIDialect: ProviderDialect {
    /// `openai`.
    public let name = "openai"

    /// Creates the dialect.
    public init() {}

    /// Each known OpenAI-compatible provider whose key is in `environment`.
    public func environmentDefaults(
        _ environment: [String: String]
    ) -> [(
        name: String, configuration: ProviderConfiguration
    )] {
        KnownProvider.all.compactMap { known in
            guard let key = environment[known.keyVariable], !key.isEmpty else { return nil }
            return (known.name, ProviderConfiguration(type: self.name, baseURL: known.baseURL, apiKey: key))
        }
    }

    /// A provider forwarding OpenAI bytes to `base_url`.
    public func makeProvider(
        name: String,
        configuration: ProviderConfiguration,
        services: ProviderServices
    ) throws -> any Provider {
        let baseURL = configuration.baseURL ?? KnownProvider.named(name)?.baseURL ?? "https://api.openai.com/v1"
        return OpenAICompatibleProvider(
            name: name,
            adapter: OpenAICompatibleAdapter(
                baseURL: baseURL,
                apiKey: configuration.apiKey,
                apiKeys: configuration.apiKeys,
                extraHeaders: configuration.headers,
                proxy: try services.proxy(for: baseURL, provider: name, configuration: configuration)
            ),
            transport: services.transport
        )
    }
}

/// An OpenAI-compatible provider the gateway knows by name: its public endpoint and key variable.
///
/// Catalog routes name providers this way (`groq`), and the embedded default adds each one
/// whose key variable is set. OpenAI-compatible providers are configuration, not code.
public struct KnownProvider: Sendable, Equatable {
    /// The provider's name in catalogs and configs.
    public var name: String
    /// Its public API root.
    public var baseURL: String
    /// The environment variable that holds its key.
    public var keyVariable: String

    /// Every provider the gateway knows by name, in the order the embedded default adds them.
    public static let all: [KnownProvider] = [
        KnownProvider(
            name: "openai",
            baseURL: "https://api.openai.com/v1",
            keyVariable: "OPENAI_API_KEY"
        ),
        KnownProvider(
            name: "groq",
            baseURL: "https://api.groq.com/openai/v1",
            keyVariable: "GROQ_API_KEY"
        ),
        KnownProvider(
            name: "together",
            baseURL: "https://api.together.xyz/v1",
            keyVariable: "TOGETHER_API_KEY"
        ),
        KnownProvider(
            name: "mistral",
            baseURL: "https://api.mistral.ai/v1",
            keyVariable: "MISTRAL_API_KEY"
        ),
        KnownProvider(
            name: "deepseek",
            baseURL: "https://api.deepseek.com/v1",
            keyVariable: "DEEPSEEK_API_KEY"
        ),
        KnownProvider(name: "xai", baseURL: "https://api.x.ai/v1", keyVariable: "XAI_API_KEY"),
    ]

    /// The known provider called `name`.
    public static func named(_ name: String) -> KnownProvider? {
        self.all.first { $0.name == name }
    }
}

/// Speaks the OpenAI Chat Completions and Embeddings APIs, for OpenAI and every compatible server.
///
/// Groq, Together, DeepSeek, xAI, Mistral, vLLM, Ollama and others differ only by `base_url`
/// and key, so they are configuration, not code. The client's body is forwarded as it came,
/// with two edits made in place: `model` becomes the route's upstream model, and streams ask for
/// the usage chunk so every call can be priced.
public struct OpenAICompatibleAdapter: Sendable {
    /// API root including `/v1`, key (`Authorization: Bearer`), extra headers and proxy.
    public var access: UpstreamAccess
    /// The path under the root for an operation (`chat/completions`, `embeddings`) on an upstream
    /// model: `/chat/completions` for OpenAI; Azure puts the deployment and `api-version` in it.
    public var path: @Sendable (_ operation: String, _ upstreamModel: String) -> String

    /// Creates an adapter for an OpenAI-style server (`Authorization: Bearer`, `/v1/...` paths).
    public init(
        baseURL: String,
        apiKey: String?,
        apiKeys: [String] = [],
        extraHeaders: [String: String] = [:],
        proxy: UpstreamProxy? = nil
    ) {
        self.init(
            access: UpstreamAccess(
                baseURL: baseURL,
                apiKey: apiKey,
                apiKeys: apiKeys,
                credentials: { [("authorization", "Bearer \($0)")] },
                extraHeaders: extraHeaders,
                proxy: proxy
            )
        )
    }

    /// Creates an adapter with its own access and paths.
    public init(
        access: UpstreamAccess,
        path: @escaping @Sendable (_ operation: String, _ upstreamModel: String) -> String = { operation, _ in
            "/" + operation
        }
    ) {
        self.access = access
        self.path = path
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
        return self.access.post(self.path("chat/completions", upstreamModel), body: body.bytes)
    }

    /// The upstream request for embeddings.
    public func makeEmbeddingsRequest(_ request: EmbeddingsRequest, upstreamModel: String) throws -> UpstreamHTTPRequest
    {
        var body = try JSONObjectEditor(request.body)
        if request.model != upstreamModel { try body.set("model", json: JSONText.string(upstreamModel)) }
        return self.access.post(self.path("embeddings", upstreamModel), body: body.bytes)
    }

    /// Describes a failed upstream response.
    public func parseError(status: Int, headers: [(String, String)], body: [UInt8]) -> ProviderError {
        struct Envelope: Decodable {
            struct Body: Decodable { var message: String? }
            var error: Body?
        }
        let message =
            JSONText.decode(Envelope.self, from: body)?.error?.message
            ?? String(decoding: body.prefix(300), as: UTF8.self)
        return ProviderError.upstream(status: status, headers: headers, message: message)
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
    /// The keys a 429 rotates through.
    public var keyCount: Int { self.adapter.access.keyCount }
    /// A team's own key replaces the configured one.
    public var acceptsOwnKey: Bool { true }

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
