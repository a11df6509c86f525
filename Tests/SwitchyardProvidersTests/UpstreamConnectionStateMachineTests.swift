// SPDX-License-Identifier: Apache-2.0

import NIOCore
import NIOHTTP1
import SwitchyardCore
import Testing

@testable import SwitchyardProviders

/// The upstream connection's HTTP/1.1 rules, event by event, without a socket.
struct UpstreamConnectionStateMachineTests {
    final class Exchange: UpstreamExchangeShape {
        let streaming: Bool
        let maxBodyBytes: Int
        init(streaming: Bool = false, maxBodyBytes: Int = 100) {
            self.streaming = streaming
            self.maxBodyBytes = maxBodyBytes
        }
    }

    typealias Machine = UpstreamConnectionStateMachine<Exchange>

    static func head(_ status: HTTPResponseStatus = .ok, keepAlive: Bool = true) -> HTTPResponseHead {
        var head = HTTPResponseHead(version: .http1_1, status: status)
        if !keepAlive { head.headers.add(name: "connection", value: "close") }
        return head
    }

    /// A short name for an action, so sequences read as lists.
    static func name(_ action: Machine.Action) -> String {
        switch action {
        case .none: "none"
        case .send: "send"
        case .fail(_, let error): "fail(\((error as? ProviderError)?.kind.rawValue ?? "\(error)"))"
        case .failAndClose(_, let error): "failAndClose(\((error as? ProviderError)?.kind.rawValue ?? "\(error)"))"
        case .startStream: "startStream"
        case .startCollecting: "startCollecting"
        case .yield(let bytes): "yield(\(bytes.readableBytes))"
        case .complete(_, let head, let body, let reusable):
            "complete(\(head.status.code),\(body.readableBytes),\(reusable))"
        case .finishStream(let reusable): "finishStream(\(reusable))"
        case .read: "read"
        case .close: "close"
        }
    }

    @Test("A complete answer on a keep-alive connection ends reusable; `Connection: close` does not")
    func completesAnswers() {
        var machine = Machine()
        let exchange = Exchange()
        let actions = [
            machine.start(exchange, channelIsActive: true), machine.receivedHead(Self.head()),
            machine.receivedBody(ByteBuffer(string: "{\"a\":")), machine.receivedBody(ByteBuffer(string: "1}")),
            machine.receivedEnd(),
        ]
        #expect(actions.map(Self.name) == ["send", "startCollecting", "none", "none", "complete(200,7,true)"])
        #expect(machine.isIdle)
        _ = machine.start(exchange, channelIsActive: true)
        _ = machine.receivedHead(Self.head(keepAlive: false))
        #expect(Self.name(machine.receivedEnd()) == "complete(200,0,false)")
    }

    @Test("A connection that is busy or closed refuses a new exchange without sending")
    func refusesBusyConnections() {
        var machine = Machine()
        #expect(Self.name(machine.start(Exchange(), channelIsActive: false)) == "fail(connection failed)")
        _ = machine.start(Exchange(), channelIsActive: true)
        #expect(Self.name(machine.start(Exchange(), channelIsActive: true)) == "fail(connection failed)")
    }

    @Test("A body beyond the exchange's limit fails it and closes the connection")
    func refusesOversizedBodies() {
        var machine = Machine()
        _ = machine.start(Exchange(maxBodyBytes: 4), channelIsActive: true)
        _ = machine.receivedHead(Self.head())
        #expect(Self.name(machine.receivedBody(ByteBuffer(string: "1234"))) == "none")
        #expect(Self.name(machine.receivedBody(ByteBuffer(string: "5"))) == "failAndClose(invalid response)")
        #expect(Self.name(machine.channelInactive()) == "fail(invalid response)")
    }

    @Test("Streams yield chunks; reads wait while the consumer is behind and resume when it asks")
    func streamsWithBackPressure() {
        var machine = Machine()
        let exchange = Exchange(streaming: true)
        _ = machine.start(exchange, channelIsActive: true)
        #expect(Self.name(machine.receivedHead(Self.head())) == "startStream")
        #expect(Self.name(machine.receivedBody(ByteBuffer(string: "data"))) == "yield(4)")
        #expect(Self.name(machine.yielded(consumerWantsMore: false, dropped: false)) == "none")
        #expect(Self.name(machine.readRequested()) == "none")
        // Demand from another exchange's consumer does not release the held read.
        #expect(Self.name(machine.consumerReady(Exchange(streaming: true))) == "none")
        #expect(Self.name(machine.consumerReady(exchange)) == "read")
        #expect(Self.name(machine.readRequested()) == "read")
        #expect(Self.name(machine.receivedEnd()) == "finishStream(true)")
    }

    @Test("Error answers to streaming requests are collected, not streamed")
    func collectsStreamingErrors() {
        var machine = Machine()
        _ = machine.start(Exchange(streaming: true), channelIsActive: true)
        #expect(Self.name(machine.receivedHead(Self.head(.tooManyRequests))) == "startCollecting")
        _ = machine.receivedBody(ByteBuffer(string: "{}"))
        #expect(Self.name(machine.receivedEnd()) == "complete(429,2,true)")
    }

    @Test("A consumer that leaves before the end closes the connection; a late one from an earlier stream does not")
    func closesForGoneConsumers() {
        var machine = Machine()
        let first = Exchange(streaming: true)
        _ = machine.start(first, channelIsActive: true)
        _ = machine.receivedHead(Self.head())
        _ = machine.receivedEnd()
        let second = Exchange(streaming: true)
        _ = machine.start(second, channelIsActive: true)
        _ = machine.receivedHead(Self.head())
        #expect(Self.name(machine.consumerGone(first)) == "none")
        #expect(Self.name(machine.consumerGone(second)) == "close")
    }

    @Test("Data with no exchange waiting for it closes the connection as out of step")
    func closesOutOfStep() {
        var machine = Machine()
        #expect(Self.name(machine.receivedBody(ByteBuffer(string: "x"))) == "close")
        #expect(machine.failure?.kind == .invalidResponse)
        var other = Machine()
        _ = other.start(Exchange(), channelIsActive: true)
        #expect(Self.name(other.receivedEnd()) == "close")
    }

    @Test("Aborts, idle timeouts and errors fail the exchange in flight with their own reason")
    func failsWithTheReason() {
        var machine = Machine()
        let exchange = Exchange()
        _ = machine.start(exchange, channelIsActive: true)
        #expect(Self.name(machine.abort(Exchange(), with: CancellationError())) == "none")
        #expect(Self.name(machine.abort(exchange, with: CancellationError())) == "failAndClose(CancellationError())")

        var idle = Machine()
        _ = idle.start(exchange, channelIsActive: true)
        #expect(Self.name(idle.idleTimedOut(after: 1)) == "none")  // no head yet: the first-token timer applies
        _ = idle.receivedHead(Self.head())
        #expect(Self.name(idle.idleTimedOut(after: 1)) == "failAndClose(timeout)")

        var broken = Machine()
        _ = broken.start(exchange, channelIsActive: true)
        #expect(Self.name(broken.errorCaught(ChannelError.ioOnClosedChannel)) == "close")
        #expect(Self.name(broken.channelInactive()) == "fail(connection failed)")
        #expect(broken.failure?.detail != nil)

        var early = Machine()
        _ = early.start(exchange, channelIsActive: true)
        guard case .fail(_, let error) = early.channelInactive() else {
            Issue.record("an early close did not fail the exchange")
            return
        }
        #expect((error as? ProviderError)?.message == "the upstream closed the connection before the response ended")
    }
}
