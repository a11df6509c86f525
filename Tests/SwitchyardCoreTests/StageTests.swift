// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging
import Metrics
import NIOCore
import Synchronization
import Testing

@testable import SwitchyardCore

/// Each stage on its own, with a stub `next`: what it passes on, what it stops, what it records.
struct StageTests {
    static func call(_ body: String, key: String? = nil, endpoint: Call.Endpoint = .chatCompletions) -> Call {
        Call(id: "req_t", endpoint: endpoint, body: Array(body.utf8), presentedKey: key, logger: Logger(label: "t"))
    }

    static func reply(status: Int = 200, body: String = "{}") -> Reply {
        Reply(
            provider: "p",
            model: "m",
            attempts: [Attempt(route: "p/m")],
            body: .complete(ByteBuffer(string: body), usage: TokenUsage(inputTokens: 3, outputTokens: 2), cost: 0.5)
        )
    }

    static func receipt(status: Int = 200, body: [UInt8]? = nil) -> Receipt {
        Receipt(
            provider: "p",
            model: "m",
            attempts: [Attempt(route: "p/m")],
            cacheStatus: .bypass,
            status: status,
            usage: TokenUsage(inputTokens: 3, outputTokens: 2),
            cost: 0.5,
            timeToFirstToken: nil,
            latency: .milliseconds(5),
            error: nil,
            responseBody: body
        )
    }

    @Test("Authentication stops an unknown key before next runs and passes the caller on otherwise")
    func authentication() async throws {
        let stage = AuthenticationStage(
            authenticator: Authenticator(
                masterKey: "master-key-0123456789",
                keys: [KeyConfiguration(name: "team", key: "team-key-0123456789", models: ["m"])]
            )
        )
        let reached = Mutex<[Caller?]>([])
        let next: (Call) async throws -> Reply = { call in
            reached.withLock { $0.append(call.caller) }
            return Self.reply()
        }
        await #expect(throws: GatewayError.self) {
            _ = try await stage.handle(Self.call("{}", key: "wrong"), next: next)
        }
        await #expect(throws: GatewayError.self) { _ = try await stage.handle(Self.call("{}"), next: next) }
        #expect(reached.withLock { $0.isEmpty })
        _ = try await stage.handle(Self.call("{}", key: "team-key-0123456789"), next: next)
        #expect(reached.withLock { $0.first??.keyName } == "team")
        #expect(reached.withLock { $0.first??.allowedModels } == ["m"])
    }

    @Test("The authenticator keeps digests, never the keys themselves")
    func keepsDigestsOnly() {
        let authenticator = Authenticator(
            masterKey: "master-key-0123456789",
            keys: [KeyConfiguration(name: "team", key: "team-key-0123456789")]
        )
        let dump = String(reflecting: authenticator)
        #expect(!dump.contains("master-key") && !dump.contains("team-key"))
        let stored = Mirror(reflecting: authenticator).children.compactMap { $0.value as? [UInt8] }
        #expect(stored.count == 1 && stored[0].count == 32)
        #expect(stored[0] != Array("master-key-0123456789".utf8))
        #expect(authenticator.isMaster("master-key-0123456789") && !authenticator.isMaster("master-key-012345678"))
    }

    @Test("Validation sets the decoded request, or throws the 400 (or the rejection) without calling next")
    func validation() async throws {
        let stage = ValidationStage()
        let seen = Mutex<ChatRequest?>(nil)
        let next: (Call) async throws -> Reply = { call in
            seen.withLock { $0 = call.chat }
            return Self.reply()
        }
        _ = try await stage.handle(Self.call(#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#), next: next)
        #expect(seen.withLock { $0?.model } == "m")
        seen.withLock { $0 = nil }
        await #expect(throws: GatewayError.self) {
            _ = try await stage.handle(Self.call(#"{"model":"m"}"#), next: next)
        }
        var rejected = Self.call(#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#)
        rejected.rejection = .bodyTooLarge(limit: 10)
        await #expect { _ = try await stage.handle(rejected, next: next) } throws: {
            ($0 as? GatewayError)?.status == .contentTooLarge
        }
        #expect(seen.withLock { $0 == nil })
    }

    @Test("Logging queues one row per call, for replies when they finish and for errors at once")
    func logging() async throws {
        let sink = CollectingSink()
        let stage = LoggingStage(sink: sink, storesBodies: true, bodyLimit: 8)
        let reply = try await stage.handle(Self.call(#"{"model":"m","messages":[]}"#)) { _ in Self.reply() }
        #expect(sink.rows.isEmpty)
        reply.finish(Self.receipt(body: Array("a long response body".utf8)))
        #expect(sink.rows.count == 1)
        #expect(sink.rows[0].model == "m" && sink.rows[0].status == 200 && sink.rows[0].outputTokens == 2)
        #expect(sink.rows[0].requestBody == #"{"model"…[truncated: 27 bytes in all]"#)
        #expect(sink.rows[0].responseBody == "a long r…[truncated: 20 bytes in all]")

        await #expect(throws: GatewayError.self) {
            _ = try await stage.handle(Self.call(#"{"model":"x"}"#)) { _ in throw GatewayError.notFound("no such model")
            }
        }
        #expect(sink.rows.count == 2 && sink.rows[1].status == 404 && sink.rows[1].error == "no such model")
    }

    @Test("Accounting labels unknown models `other` and counts failures with their status")
    func accounting() async throws {
        let factory = CountingFactory()
        let stage = AccountingStage(metrics: GatewayMetrics(factory: factory, isKnownModel: { $0 == "m" }))
        let reply = try await stage.handle(Self.call(#"{"model":"m"}"#)) { _ in Self.reply() }
        reply.finish(Self.receipt())
        await #expect(throws: GatewayError.self) {
            _ = try await stage.handle(Self.call(#"{"model":"made-up"}"#)) { _ in throw GatewayError.notFound("x") }
        }
        let counted = factory.counterLabels
        #expect(
            counted.contains(
                "switchyard_requests_total endpoint=chat.completions model=m provider=p status=200 cache=bypass"
            )
        )
        #expect(
            counted.contains(
                "switchyard_requests_total endpoint=chat.completions model=other provider=none status=404 cache=none"
            )
        )
        #expect(!counted.contains { $0.contains("made-up") })
        #expect(GatewayMetrics.statusLabel(418) == "4xx" && GatewayMetrics.statusLabel(999) == "other")
    }
}

/// Collects queued request log rows.
final class CollectingSink: RequestLogSink {
    private let collected = Mutex<[RequestLogRecord]>([])
    var rows: [RequestLogRecord] { self.collected.withLock { $0 } }
    func enqueue(_ record: RequestLogRecord) { self.collected.withLock { $0.append(record) } }
}

/// A metrics factory that remembers the label and dimensions of every counter made.
final class CountingFactory: MetricsFactory {
    private let labels = Mutex<[String]>([])
    var counterLabels: [String] { self.labels.withLock { $0 } }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        self.labels.withLock { $0.append(([label] + dimensions.map { "\($0.0)=\($0.1)" }).joined(separator: " ")) }
        return NOOPMetricsHandler.instance
    }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        NOOPMetricsHandler.instance
    }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        NOOPMetricsHandler.instance
    }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler { NOOPMetricsHandler.instance }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { NOOPMetricsHandler.instance }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}
