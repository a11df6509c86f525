// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwitchyardCore
import Testing

@testable import SwitchyardProviders

/// The upstream HTTP/1.1 client against a raw TCP server that misbehaves on purpose.
@Suite(.timeLimit(.minutes(1)))
struct UpstreamTransportTests {
    static let json = #"{"id":"x","object":"chat.completion"}"#

    static func okResponse(_ body: String = json, extraHeaders: String = "") -> String {
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\(extraHeaders)\r\n"
            + body
    }

    static func context(
        firstToken: Duration = .seconds(5),
        connect: Duration = .seconds(2),
        idle: Duration = .seconds(5)
    ) -> UpstreamContext {
        UpstreamContext(
            requestID: "req_test",
            firstTokenTimeout: firstToken,
            connectTimeout: connect,
            idleTimeout: idle
        )
    }

    static func request(port: Int, path: String = "/v1/chat/completions") -> UpstreamHTTPRequest {
        UpstreamHTTPRequest(
            url: "http://127.0.0.1:\(port)\(path)",
            headers: [("Authorization", "Bearer sk-up"), ("Content-Type", "application/json")],
            body: Array(#"{"model":"m"}"#.utf8)
        )
    }

    static func send(
        _ transport: HTTPTransport,
        port: Int,
        streaming: Bool = false,
        context: UpstreamContext = context()
    ) async throws -> UpstreamResponse {
        try await transport.send(request(port: port), streaming: streaming, context: context) { status, headers, body in
            ProviderError(
                kind: ProviderError.kind(forStatus: status),
                status: status,
                message: String(decoding: body, as: UTF8.self),
                retryAfter: headers.first { $0.0.lowercased() == "retry-after" }.map { _ in .seconds(1) }
            )
        }
    }

    static func text(_ response: UpstreamResponse) async throws -> String {
        switch response {
        case .complete(let body): return String(buffer: body)
        case .stream(let stream):
            var text = ""
            for try await chunk in stream { text += String(buffer: chunk) }
            return text
        }
    }

    @Test("Sends head, body and provider headers; reuses one keep-alive connection")
    func reusesConnections() async throws {
        let server = try await ScriptedServer.start { _ in .respond(Self.okResponse()) }
        let transport = HTTPTransport()
        for _ in 0..<3 {
            #expect(try await Self.text(Self.send(transport, port: server.port)) == Self.json)
        }
        #expect(server.connectionCount == 1)
        let request = try #require(server.requests.first)
        #expect(request.hasPrefix("POST /v1/chat/completions HTTP/1.1\r\n"))
        #expect(request.contains("Host: 127.0.0.1:\(server.port)\r\n"))
        #expect(request.contains("Authorization: Bearer sk-up\r\n"))
        #expect(request.contains("x-switchyard-request-id: req_test\r\n"))
        #expect(request.hasSuffix("\r\n\r\n{\"model\":\"m\"}"))
        try await transport.shutdown()
        try await server.stop()
    }

    @Test("Beyond the connection limit, requests wait for a free connection instead of opening more")
    func queuesBeyondConnectionLimit() async throws {
        let server = try await ScriptedServer.start { _ in .respond(Self.okResponse()) }
        let transport = HTTPTransport(maxConnectionsPerEndpoint: 2)
        let answers = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<10 { group.addTask { try await Self.text(Self.send(transport, port: server.port)) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers == Array(repeating: Self.json, count: 10))
        #expect(server.connectionCount <= 2)
        #expect(server.requests.count == 10)
        try await transport.shutdown()
        try await server.stop()
    }

    @Test("The wait queue is bounded: beyond it a request fails at once as overloaded")
    func boundsTheWaitQueue() async throws {
        let server = try await ScriptedServer.start { _ in .silent }
        let transport = HTTPTransport(maxConnectionsPerEndpoint: 1, maxWaitingPerEndpoint: 2)
        let context = Self.context(firstToken: .seconds(2))
        // Whatever the order: one request holds the only connection, two wait (and time out), seven are refused.
        let kinds = await withTaskGroup(of: ProviderError.Kind?.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    do {
                        _ = try await Self.send(transport, port: server.port, context: context)
                        return nil
                    } catch {
                        return (error as? ProviderError)?.kind
                    }
                }
            }
            return await group.reduce(into: [ProviderError.Kind?]()) { $0.append($1) }
        }
        #expect(kinds.filter { $0 == .overloaded }.count == 7)
        #expect(kinds.filter { $0 == .timeout }.count == 3)
        try await transport.shutdown()
        try await server.stop()
    }

    @Test("Does not reuse a connection the upstream said it would close")
    func honoursConnectionClose() async throws {
        let server = try await ScriptedServer.start { _ in
            .respond(Self.okResponse(extraHeaders: "Connection: close\r\n"), thenClose: true)
        }
        let transport = HTTPTransport()
        for _ in 0..<2 {
            #expect(try await Self.text(Self.send(transport, port: server.port)) == Self.json)
        }
        #expect(server.connectionCount == 2)
        try await transport.shutdown()
        try await server.stop()
    }

    @Test("Skips an interim 103 answer (NIO's decoder drops it) and reads the final one")
    func skipsInterimAnswers() async throws {
        let server = try await ScriptedServer.start { _ in
            .respond("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" + Self.okResponse())
        }
        let transport = HTTPTransport()
        #expect(try await Self.text(Self.send(transport, port: server.port)) == Self.json)
        #expect(try await Self.text(Self.send(transport, port: server.port)) == Self.json)
        #expect(server.connectionCount == 1)
        try await transport.shutdown()
        try await server.stop()
    }

    @Test("Error statuses reach parseError with headers and body, streaming or not")
    func passesErrorStatus() async throws {
        let body = #"{"error":{"message":"slow down"}}"#
        let server = try await ScriptedServer.start { _ in
            .respond(
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            )
        }
        let transport = HTTPTransport()
        for streaming in [false, true] {
            let error = await #expect(throws: ProviderError.self) {
                try await Self.send(transport, port: server.port, streaming: streaming)
            }
            #expect(error?.kind == .rateLimited)
            #expect(error?.status == 429)
            #expect(error?.message == body)
            #expect(error?.retryAfter == .seconds(1))
        }
        #expect(server.connectionCount == 1)
        try await transport.shutdown()
        try await server.stop()
    }

    @Test("Streams a chunked body part by part and reuses the connection after it")
    func streamsChunkedBody() async throws {
        let events = (0..<50).map { "data: {\"n\":\($0)}\n\n" }
        let chunked = events.map { String($0.utf8.count, radix: 16) + "\r\n" + $0 + "\r\n" }.joined() + "0\r\n\r\n"
        let server = try await ScriptedServer.start { _ in
            .respond(
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
            )
        }
        let transport = HTTPTransport()
        for _ in 0..<2 {
            let response = try await Self.send(transport, port: server.port, streaming: true)
            guard case .stream(let stream) = response else {
                Issue.record("expected a stream")
                return
            }
            var text = ""
            for try await chunk in stream {
                text += String(buffer: chunk)
                try await Task.sleep(for: .milliseconds(1))  // a slow consumer: reading pauses, nothing is lost
            }
            #expect(text == events.joined())
        }
        #expect(server.connectionCount == 1)
        try await transport.shutdown()
        try await server.stop()
    }

    @Test("A stream's consumer finishing late does not close the next exchange on the same connection")
    func lateConsumerLeavesNextExchangeAlone() async throws {
        let full = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ndata: \r\n0\r\n\r\n"
        let server = try await ScriptedServer.start { request in
            request.contains("second")
                ? .partial("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") : .respond(full)
        }
        let transport = HTTPTransport()
        let first = try await Self.send(transport, port: server.port, streaming: true)
        // The whole first body is in: the connection is back in the pool while its consumer has not read it.
        try await Task.sleep(for: .milliseconds(100))
        var second = Self.request(port: server.port)
        second.body = Array(#"{"model":"second"}"#.utf8)
        let secondResponse = try await transport.send(second, streaming: true, context: Self.context()) {
            status,
            _,
            _ in
            ProviderError(kind: .server, status: status, message: "unexpected")
        }
        #expect(try await Self.text(first) == "data: ")
        try await Task.sleep(for: .milliseconds(100))
        #expect(server.connectionCount == 1)
        // The second stream is still open on that connection.
        #expect(server.closedCount == 0)
        guard case .stream = secondResponse else {
            Issue.record("expected a stream")
            return
        }
        try await transport.shutdown()
        try await server.stop()
    }

    @Test("Times out waiting for the head, and closes that connection")
    func timesOutBeforeHead() async throws {
        let server = try await ScriptedServer.start { _ in .silent }
        let transport = HTTPTransport()
        let started = ContinuousClock.now
        let error = await #expect(throws: ProviderError.self) {
            try await Self.send(transport, port: server.port, context: Self.context(firstToken: .milliseconds(200)))
        }
        #expect(error?.kind == .timeout)
        #expect(ContinuousClock.now - started < .seconds(3))
        try await server.waitForClosedConnections(1)
        try await transport.shutdown()
        try await server.stop()
    }

    @Test("Times out when a streamed body stalls")
    func timesOutWhenBodyStalls() async throws {
        let server = try await ScriptedServer.start { _ in
            .partial("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ndata: \r\n")
        }
        let transport = HTTPTransport()
        let response = try await Self.send(
            transport,
            port: server.port,
            streaming: true,
            context: Self.context(idle: .milliseconds(200))
        )
        let error = await #expect(throws: ProviderError.self) { _ = try await Self.text(response) }
        #expect(error?.kind == .timeout)
        try await server.waitForClosedConnections(1)
        try await transport.shutdown()
        try await server.stop()
    }

    @Test("Reports an upstream that closes in the middle of a body as a connection failure")
    func reportsEarlyClose() async throws {
        let server = try await ScriptedServer.start { _ in
            .respond("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\":", thenClose: true)
        }
        let transport = HTTPTransport()
        let error = await #expect(throws: ProviderError.self) { try await Self.send(transport, port: server.port) }
        #expect(error?.kind == .connection)
        try await transport.shutdown()
        try await server.stop()
    }

    @Test("A refused connection fails the attempt at once")
    func reportsRefusedConnection() async throws {
        let server = try await ScriptedServer.start { _ in .silent }
        let port = server.port
        try await server.stop()
        let transport = HTTPTransport()
        let error = await #expect(throws: ProviderError.self) { try await Self.send(transport, port: port) }
        #expect(error?.kind == .connection)
        try await transport.shutdown()
    }

    @Test("An https upstream that does not speak TLS fails the attempt as a connection error")
    func reportsFailedTLSHandshake() async throws {
        let server = try await ScriptedServer.start(answerAnyBytes: true) { _ in
            .respond("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", thenClose: true)
        }
        let transport = HTTPTransport()
        let request = UpstreamHTTPRequest(
            url: "https://localhost:\(server.port)/v1/chat/completions",
            headers: [],
            body: []
        )
        let error = await #expect(throws: ProviderError.self) {
            try await transport.send(request, streaming: false, context: Self.context()) { status, _, _ in
                ProviderError(kind: .server, status: status, message: "parsed an HTTP answer over TLS")
            }
        }
        #expect(error?.kind == .connection)
        #expect(server.connectionCount == 1)
        try await transport.shutdown()
        try await server.stop()
    }

    @Test("Cancelling the calling task closes the upstream connection")
    func cancellationClosesConnection() async throws {
        let server = try await ScriptedServer.start { _ in .silent }
        let transport = HTTPTransport()
        let call = Task { try await Self.send(transport, port: server.port) }
        try await server.waitForRequests(1)
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        try await server.waitForClosedConnections(1)
        try await transport.shutdown()
        try await server.stop()
    }

    @Test(
        "Parses upstream URLs",
        arguments: [
            ("http://127.0.0.1:8000/v1/chat", "127.0.0.1", 8000, false, "/v1/chat", "127.0.0.1:8000"),
            ("https://api.openai.com/v1/embeddings", "api.openai.com", 443, true, "/v1/embeddings", "api.openai.com"),
            ("http://[::1]:9/x?y=1", "::1", 9, false, "/x?y=1", "[::1]:9"),
            ("http://host", "host", 80, false, "/", "host"),
        ]
    )
    func parsesURLs(url: String, host: String, port: Int, tls: Bool, target: String, hostHeader: String) throws {
        let parsed = try #require(UpstreamURL(url))
        #expect(parsed.endpoint == UpstreamEndpoint(usesTLS: tls, host: host, port: port))
        #expect(parsed.target == target)
        #expect(parsed.endpoint.hostHeader == hostHeader)
    }

    @Test("Refuses URLs it cannot send to", arguments: ["ftp://x/y", "http://", "http://u:p@host/", "http://h:99999/"])
    func refusesURLs(url: String) {
        #expect(UpstreamURL(url) == nil)
    }
}

/// A loopback TCP server that answers each complete HTTP request as its script says.
final class ScriptedServer: Sendable {
    enum Answer {
        /// Write these bytes; close afterwards if asked.
        case respond(String, thenClose: Bool = false)
        /// Write these bytes and keep the connection open without finishing.
        case partial(String)
        /// Never answer.
        case silent
    }

    private struct State {
        var requests: [String] = []
        var connections = 0
        var closed = 0
    }

    private let channel: any Channel
    private let state: NIOLockedValueBox<State>
    let port: Int

    var requests: [String] { self.state.withLockedValue { $0.requests } }
    var connectionCount: Int { self.state.withLockedValue { $0.connections } }
    var closedCount: Int { self.state.withLockedValue { $0.closed } }

    private init(channel: any Channel, state: NIOLockedValueBox<State>) {
        self.channel = channel
        self.state = state
        self.port = channel.localAddress?.port ?? 0
    }

    /// Starts on a free loopback port; with `answerAnyBytes` the script answers whatever arrives first,
    /// complete HTTP request or not.
    static func start(
        answerAnyBytes: Bool = false,
        _ script: @escaping @Sendable (String) -> Answer
    ) async throws -> ScriptedServer {
        let state = NIOLockedValueBox(State())
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Connection(state: state, answerAnyBytes: answerAnyBytes, script: script)
                    )
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return ScriptedServer(channel: channel, state: state)
    }

    func stop() async throws {
        try await self.channel.close()
    }

    func waitForRequests(_ count: Int) async throws {
        try await self.wait { $0.requests.count >= count }
    }

    func waitForClosedConnections(_ count: Int) async throws {
        try await self.wait { $0.closed >= count }
    }

    private func wait(until condition: @escaping (State) -> Bool) async throws {
        for _ in 0..<200 {
            if self.state.withLockedValue({ condition($0) }) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the scripted server did not reach the expected state")
    }

    private final class Connection: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        private let state: NIOLockedValueBox<State>
        let script: @Sendable (String) -> Answer
        let answerAnyBytes: Bool
        var received = ""

        init(state: NIOLockedValueBox<State>, answerAnyBytes: Bool, script: @escaping @Sendable (String) -> Answer) {
            self.state = state
            self.answerAnyBytes = answerAnyBytes
            self.script = script
        }

        func channelActive(context: ChannelHandlerContext) {
            self.state.withLockedValue { $0.connections += 1 }
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.state.withLockedValue { $0.closed += 1 }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.received += String(buffer: self.unwrapInboundIn(data))
            if self.answerAnyBytes {
                let request = self.received
                self.received = ""
                self.state.withLockedValue { $0.requests.append(request) }
                self.answer(self.script(request), context: context)
                return
            }
            // One request: the head, then as many body bytes as Content-Length says.
            while let headEnd = self.received.range(of: "\r\n\r\n") {
                let head = self.received[..<headEnd.lowerBound].lowercased()
                let length =
                    head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                let bodyStart = self.received.utf8.distance(
                    from: self.received.startIndex,
                    to: headEnd.upperBound
                )
                guard self.received.utf8.count >= bodyStart + length else { return }
                let end = self.received.utf8.index(self.received.startIndex, offsetBy: bodyStart + length)
                let request = String(self.received[..<end])
                self.received = String(self.received[end...])
                self.state.withLockedValue { $0.requests.append(request) }
                self.answer(self.script(request), context: context)
            }
        }

        private func answer(_ answer: Answer, context: ChannelHandlerContext) {
            switch answer {
            case .respond(let bytes, let thenClose):
                let written = context.writeAndFlush(NIOAny(ByteBuffer(string: bytes)))
                if thenClose { written.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) } }
            case .partial(let bytes):
                context.writeAndFlush(NIOAny(ByteBuffer(string: bytes)), promise: nil)
            case .silent:
                break
            }
        }
    }
}
