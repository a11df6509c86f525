// SPDX-License-Identifier: Apache-2.0

import AsyncHTTPClient
import NIOCore
import NIOPosix
import SwitchyardCore

/// Makes one upstream HTTP attempt and classifies its failure; shared by every HTTP adapter.
///
/// It keeps one connection pool per event loop and sends each request from the pool of the loop
/// it runs on, so the client connection and the server connection it answers share a thread:
/// no request waits for another thread to wake up.
public final class HTTPTransport: Sendable {
    private let clients: [ObjectIdentifier: HTTPClient]
    private let fallbackClient: HTTPClient
    /// Largest upstream body read into memory.
    public let maxResponseBytes = 32 << 20

    /// Creates a transport with pooled keep-alive connections, no redirects and bounded timeouts.
    public init(connectTimeout: Duration, idleTimeout: Duration) {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: .nanoseconds(connectTimeout.nanoseconds),
                read: .nanoseconds(idleTimeout.nanoseconds)
            ),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        )
        configuration.decompression = .disabled
        // A refused connection should fail this attempt now, so the dispatcher can fall back,
        // instead of AsyncHTTPClient retrying it until the request's deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        var clients: [ObjectIdentifier: HTTPClient] = [:]
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
            clients[ObjectIdentifier(loop)] = HTTPClient(
                eventLoopGroupProvider: .shared(loop),
                configuration: configuration
            )
        }
        self.clients = clients
        self.fallbackClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes every pooled connection.
    public func shutdown() async throws {
        for client in self.clients.values { try await client.shutdown() }
        try await self.fallbackClient.shutdown()
    }

    /// The client whose connections live on the current event loop, if the caller runs on one.
    private var client: HTTPClient {
        MultiThreadedEventLoopGroup.currentEventLoop.flatMap { self.clients[ObjectIdentifier($0)] }
            ?? self.fallbackClient
    }

    /// Sends `request`; returns the body (or its stream) on 2xx, else throws the error `parseError` makes.
    public func send(
        _ request: UpstreamHTTPRequest,
        streaming: Bool,
        context: UpstreamContext,
        parseError: @Sendable (Int, [(String, String)], [UInt8]) -> ProviderError
    ) async throws -> UpstreamResponse {
        var outbound = HTTPClientRequest(url: request.url)
        outbound.method = .POST
        for (name, value) in request.headers { outbound.headers.add(name: name, value: value) }
        outbound.headers.add(name: "x-switchyard-request-id", value: context.requestID)
        outbound.body = .bytes(ByteBuffer(bytes: request.body))

        let response: HTTPClientResponse
        do {
            let timeout = TimeAmount.nanoseconds(max(0, context.firstTokenTimeout.nanoseconds))
            response = try await self.client.execute(outbound, deadline: .now() + timeout, logger: context.logger)
        } catch {
            throw Self.classify(error)
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let body = (try? await response.body.collect(upTo: 1 << 20)).map { Array($0.readableBytesView) } ?? []
            let headers = response.headers.map { ($0.name, $0.value) }
            throw parseError(status, headers, body)
        }
        if streaming {
            return .stream(ByteStream(response.body))
        }
        do {
            return .complete(try await response.body.collect(upTo: self.maxResponseBytes))
        } catch {
            throw Self.classify(error)
        }
    }

    /// Maps a transport error to a failure class; never includes credentials.
    static func classify(_ error: any Error) -> any Error {
        if error is CancellationError { return error }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
                return ProviderError(kind: .timeout, message: "no answer in time (\(error))")
            case .cancelled:
                return CancellationError()
            default:
                return ProviderError(kind: .connection, message: "\(error)")
            }
        }
        return ProviderError(kind: .connection, message: "\(error)")
    }
}
