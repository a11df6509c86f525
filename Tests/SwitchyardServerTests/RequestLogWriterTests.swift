// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging
import Prometheus
import SwitchyardCore
import SwitchyardStorage
import Synchronization
import Testing

@testable import SwitchyardServer

/// The request log writer's bounds: one write at a time, a byte-limited queue, retries, readiness, retention.
@Suite(.timeLimit(.minutes(1)))
struct RequestLogWriterTests {
    static func record(_ id: String, startedAt: Date = Date(), body: String? = "{}") -> RequestLogRecord {
        RequestLogRecord(
            id: id,
            startedAt: startedAt,
            finishedAt: startedAt,
            keyName: nil,
            endpoint: "chat.completions",
            model: "m",
            provider: "p",
            upstreamModel: "m",
            status: 200,
            isStreaming: false,
            attempts: 1,
            inputTokens: 1,
            cachedInputTokens: 0,
            outputTokens: 1,
            costUSD: nil,
            latencyMs: 1,
            timeToFirstTokenMs: nil,
            cacheStatus: "bypass",
            error: nil,
            requestBody: body,
            responseBody: body
        )
    }

    static func writer(
        _ store: any RequestLogStore,
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        _ adjust: (inout RequestLogConfiguration) -> Void = { _ in }
    ) -> RequestLogWriter {
        var settings = RequestLogConfiguration()
        settings.batchSize = 2
        adjust(&settings)
        return RequestLogWriter(
            store: store,
            settings: settings,
            metrics: PrometheusMetricsFactory(registry: registry),
            logger: Logger(label: "test")
        )
    }

    @Test("Concurrent flushes never write at the same time, and rows arrive once, in order")
    func flushesOneAtATime() async throws {
        let store = RecordingStore(delay: .milliseconds(2))
        let writer = Self.writer(store)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<5 {
                        writer.enqueue(Self.record("r\(task)-\(index)"))
                        await writer.flush()
                    }
                }
            }
        }
        await writer.flush()
        #expect(store.maxConcurrentWrites == 1)
        #expect(store.ids.count == 40 && Set(store.ids).count == 40)
        for task in 0..<8 {
            let mine = store.ids.filter { $0.hasPrefix("r\(task)-") }
            #expect(mine == (0..<5).map { "r\(task)-\($0)" })
        }
    }

    @Test("The queue is bounded in bytes: the oldest rows are dropped and counted")
    func dropsOldestBeyondTheByteLimit() async throws {
        let store = RecordingStore(failing: true)
        let registry = PrometheusCollectorRegistry()
        let writer = Self.writer(store, registry: registry) { $0.maxQueueBytes = 100_000 }
        let body = String(repeating: "x", count: 10_000)
        for index in 0..<50 { writer.enqueue(Self.record("r\(index)", body: body)) }
        let metrics = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        // Each row holds two 10 kB bodies: at most four fit in 100 kB.
        #expect(metrics.contains("switchyard_request_log_dropped_total 46"))
        store.failing = false
        await writer.flush()
        #expect(store.ids == ["r46", "r47", "r48", "r49"])
    }

    @Test("A failed batch is kept and retried; readiness fails only after unready_after")
    func retriesAndReportsReadiness() async throws {
        let store = RecordingStore(failing: true)
        let writer = Self.writer(store) { $0.unreadyAfter = .milliseconds(50) }
        writer.enqueue(Self.record("a"))
        writer.enqueue(Self.record("b"))
        #expect(await writer.flush() == false)
        #expect(writer.isHealthy)
        try await Task.sleep(for: .milliseconds(80))
        #expect(await writer.flush() == false)
        #expect(!writer.isHealthy)
        store.failing = false
        #expect(await writer.flush())
        #expect(writer.isHealthy)
        #expect(store.ids == ["a", "b"])
    }

    @Test("Retention deletes old rows, strips old bodies and keeps the log under max_bytes, in small steps")
    func appliesRetention() async throws {
        let store = try SQLiteStore()
        let now = Date()
        try await store.append([
            Self.record("old", startedAt: now - 40 * 86_400),
            Self.record("middle", startedAt: now - 10 * 86_400),
            Self.record("new", startedAt: now),
        ])
        let writer = Self.writer(store) {
            $0.retention = .seconds(30 * 86_400)
            $0.bodyRetention = .seconds(7 * 86_400)
        }
        await writer.purge(now: now)
        let rows = try await store.records(matching: RequestLogQuery())
        #expect(rows.map(\.id) == ["new", "middle"])
        #expect(rows[1].requestBody == nil && rows[1].responseBody == nil)
        #expect(rows[0].requestBody == "{}")

        let body = String(repeating: "y", count: 20_000)
        try await store.append((0..<300).map { Self.record("big\($0)", startedAt: now + Double($0), body: body) })
        let bounded = Self.writer(store) { $0.maxBytes = 2 << 20 }
        await bounded.purge(now: now)
        let kept = try await store.records(matching: RequestLogQuery(limit: 1000))
        // 300 rows of 40 kB are 12 MB; the newest ones that fit in 2 MB remain.
        #expect(kept.count < 60 && kept.count > 10)
        #expect(kept.first?.id == "big299")
    }
}

/// A store that records what it is given, optionally slowly or failing, and how many writes overlap.
final class RecordingStore: RequestLogStore, @unchecked Sendable {
    private let state = Mutex<(ids: [String], inFlight: Int, maxInFlight: Int, failing: Bool)>(([], 0, 0, false))
    private let delay: Duration

    init(delay: Duration = .zero, failing: Bool = false) {
        self.delay = delay
        self.state.withLock { $0.failing = failing }
    }

    var ids: [String] { self.state.withLock { $0.ids } }
    var maxConcurrentWrites: Int { self.state.withLock { $0.maxInFlight } }
    var failing: Bool {
        get { self.state.withLock { $0.failing } }
        set { self.state.withLock { $0.failing = newValue } }
    }

    struct Unavailable: Error {}

    func append(_ records: [RequestLogRecord]) async throws {
        let failing = self.state.withLock { state -> Bool in
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
            return state.failing
        }
        if self.delay > .zero { try? await Task.sleep(for: self.delay) }
        self.state.withLock { state in
            state.inFlight -= 1
            if !failing { state.ids += records.map(\.id) }
        }
        if failing { throw Unavailable() }
    }

    func records(matching query: RequestLogQuery) async throws -> [RequestLogRecord] { [] }
    func checkReachable() async throws {}
    func purgeStep(_ policy: RequestLogRetention, limit: Int) async throws -> Int { 0 }
}
