// SPDX-License-Identifier: Apache-2.0

import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import SwitchyardCore
import SwitchyardServer
import Tracing

/// Runs a gateway and an upstream on loopback for one test.
public enum TestGateway {
    /// A quiet logger for servers under test.
    public static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return logger
    }

    /// A configuration with one OpenAI-compatible provider `up` at `upstreamPort`, memory store, no retry pauses.
    public static func configuration(upstreamPort: Int, models: [String: ModelConfiguration]) -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        configuration.port = 0
        configuration.store = .memory
        configuration.providers = [
            "up": ProviderConfiguration(
                type: "openai",
                baseURL: "http://127.0.0.1:\(upstreamPort)/v1",
                apiKey: "sk-upstream-secret"
            ),
            "down": ProviderConfiguration(type: "openai", baseURL: "http://127.0.0.1:9/v1", apiKey: "sk-down"),
        ]
        configuration.models = models
        configuration.retries = RetryConfiguration(attempts: 2, initialBackoff: .zero, maxBackoff: .seconds(1))
        return configuration
    }

    /// Starts `upstream`, then a gateway built by `configure` from the upstream's port, and runs `body`
    /// with the gateway and its port.
    public static func run(
        upstream: FakeOpenAIUpstream = FakeOpenAIUpstream(),
        tracer: (any Tracer)? = nil,
        configure: @escaping @Sendable (Int) -> GatewayConfiguration,
        _ body: @escaping @Sendable (Gateway, Int) async throws -> Void
    ) async throws {
        try await upstream.makeApplication().test(.live) { upstreamClient in
            guard let upstreamPort = upstreamClient.port else { throw TestGatewayError.noPort }
            let gateway = try Gateway(
                configuration: configure(upstreamPort),
                pause: { _ in },
                tracer: tracer,
                logger: logger
            )
            do {
                try await gateway.application.test(.live) { client in
                    guard let port = client.port else { throw TestGatewayError.noPort }
                    try await body(gateway, port)
                }
            } catch {
                try await gateway.shutdown()
                throw error
            }
            try await gateway.shutdown()
        }
    }

    /// Runs a gateway serving `models` over the providers of ``configuration(upstreamPort:models:)``.
    public static func run(
        upstream: FakeOpenAIUpstream = FakeOpenAIUpstream(),
        models: [String: ModelConfiguration],
        _ body: @escaping @Sendable (Gateway, Int) async throws -> Void
    ) async throws {
        try await self.run(
            upstream: upstream,
            configure: { self.configuration(upstreamPort: $0, models: models) },
            body
        )
    }

    /// Sends a request to the gateway and collects the whole response.
    public static func send(
        port: Int,
        path: String = "/v1/chat/completions",
        method: HTTPMethod = .POST,
        body: String? = nil,
        headers: [(String, String)] = []
    ) async throws -> (status: Int, headers: [String: String], body: String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers.add(name: "content-type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await Self.client.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 16 << 20)
        var fields: [String: String] = [:]
        for header in response.headers { fields[header.name.lowercased()] = header.value }
        return (Int(response.status.code), fields, String(buffer: data))
    }

    /// A client that does not follow redirects, so tests see the console's 303s.
    private static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: .init(redirectConfiguration: .disallow)
    )

    /// A chat request body for `model`.
    public static func chatBody(model: String, stream: Bool = false, extra: String = "") -> String {
        #"{"model":"\#(model)","messages":[{"role":"user","content":"Say hello"}],"stream":\#(stream)\#(extra)}"#
    }
}

/// Failures of the test harness itself.
enum TestGatewayError: Error {
    /// A live test server reported no port.
    case noPort
}
