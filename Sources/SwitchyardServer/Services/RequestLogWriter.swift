// SPDX-License-Identifier: Apache-2.0

import CoreMetrics
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SwitchyardCore
import Synchronization

/// Queues request log records in memory and writes them to the store in batches.
///
/// Requests only append to a queue under a lock; this service writes a batch when it fills or
/// when `request_log.flush_interval` passes, and drains the queue on graceful shutdown so a
/// SIGTERM loses nothing. Everything is bounded:
///
/// - the queue holds at most `request_log.max_queue_bytes`; beyond it the oldest rows are dropped
///   in O(1), counted in `switchyard_request_log_dropped_total`, with at most one warning a minute;
/// - a failed batch goes back to the front of the queue and is retried with exponential backoff
///   (up to 30 s); after `request_log.unready_after` of failures ``isHealthy`` turns false, and so
///   does `/ready`;
/// - in the background, small retention steps delete old rows, old bodies and, beyond
///   `request_log.max_bytes`, the oldest rows, without holding up writes.
public final class RequestLogWriter: RequestLogSink, Service {
    private let store: any RequestLogStore
    private let settings: RequestLogConfiguration
    private let logger: Logger
    private let queue = Mutex(Queue())
    private let health = Mutex(Health())
    private let wakeUp: AsyncStream<Void>.Continuation
    private let wakeUps: AsyncStream<Void>
    private let writeLock = AsyncSerialLock()
    private let dropped: Counter
    private let queuedBytes: Gauge

    /// Rows waiting to be written and their approximate size.
    private struct Queue {
        var rows = CircularBuffer<RequestLogRecord>()
        var bytes = 0
        var lastDropWarning: ContinuousClock.Instant?
    }

    /// Whether writes are failing, and when to try again.
    private struct Health {
        var failingSince: ContinuousClock.Instant?
        var retryAt: ContinuousClock.Instant?
        var backoff = RequestLogWriter.firstBackoff
    }

    static let firstBackoff = Duration.milliseconds(100)
    static let longestBackoff = Duration.seconds(30)
    /// How often retention runs, and how many rows one step may change.
    static let purgeInterval = Duration.seconds(60)
    static let purgeBatch = 500

    /// Creates a writer for `store`; its metrics go to `metrics`.
    public init(
        store: any RequestLogStore,
        settings: RequestLogConfiguration,
        metrics: any MetricsFactory,
        logger: Logger
    ) {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.dropped = Counter(label: "switchyard_request_log_dropped_total", factory: metrics)
        self.queuedBytes = Gauge(label: "switchyard_request_log_queue_bytes", factory: metrics)
        (self.wakeUps, self.wakeUp) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues `record`; drops the oldest rows beyond the byte limit; wakes the writer when a batch is full.
    public func enqueue(_ record: RequestLogRecord) {
        let size = record.approximateBytes
        let limit = self.settings.maxQueueBytes
        let (count, droppedNow, warn) = self.queue.withLock { queue -> (Int, Int, Bool) in
            queue.rows.append(record)
            queue.bytes += size
            var droppedNow = 0
            while queue.bytes > limit, queue.rows.count > 1 {
                queue.bytes -= queue.rows.removeFirst().approximateBytes
                droppedNow += 1
            }
            guard droppedNow > 0 else { return (queue.rows.count, 0, false) }
            let now = ContinuousClock.now
            let warn = queue.lastDropWarning.map { now - $0 >= .seconds(60) } ?? true
            if warn { queue.lastDropWarning = now }
            return (queue.rows.count, droppedNow, warn)
        }
        if droppedNow > 0 {
            self.dropped.increment(by: droppedNow)
            if warn {
                self.logger.warning(
                    "request log queue full: dropping the oldest rows (switchyard_request_log_dropped_total counts them)",
                    metadata: ["gw.max_queue_bytes": "\(limit)"]
                )
            }
        }
        if count >= self.settings.batchSize { self.wakeUp.yield() }
    }

    /// Whether the log is being written: false once writes have failed for `request_log.unready_after`.
    public var isHealthy: Bool {
        let since = self.health.withLock { $0.failingSince }
        return since.map { ContinuousClock.now - $0 < self.settings.unreadyAfter } ?? true
    }

    /// Writes batches until graceful shutdown, then writes what is left.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.settings.flushInterval)
                        self.wakeUp.yield()
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        await self.purge()
                        try? await Task.sleep(for: Self.purgeInterval)
                    }
                }
                for await _ in self.wakeUps {
                    let retryAt = self.health.withLock { $0.retryAt }
                    if let retryAt, ContinuousClock.now < retryAt { continue }
                    await self.flush()
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.wakeUp.finish()
        }
        // The drain: a store that is briefly away gets a few more chances before rows are lost.
        for attempt in 0..<3 where await !self.flush() {
            try? await Task.sleep(for: Self.firstBackoff * (1 << attempt))
        }
        let left = self.queue.withLock { $0.rows.count }
        if left > 0 { self.logger.error("request log rows lost at shutdown", metadata: ["gw.rows": "\(left)"]) }
    }

    /// Writes everything queued so far, one batch at a time; returns whether the queue was emptied.
    ///
    /// Writes never overlap (``AsyncSerialLock``), so batches reach the store in order.
    @discardableResult
    public func flush() async -> Bool {
        await self.writeLock.withLock {
            while true {
                let batch = self.queue.withLock { queue -> [RequestLogRecord] in
                    let count = min(self.settings.batchSize, queue.rows.count)
                    var batch: [RequestLogRecord] = []
                    batch.reserveCapacity(count)
                    for _ in 0..<count {
                        let row = queue.rows.removeFirst()
                        queue.bytes -= row.approximateBytes
                        batch.append(row)
                    }
                    return batch
                }
                guard !batch.isEmpty else {
                    self.queuedBytes.record(0)
                    return true
                }
                do {
                    try await self.store.append(batch)
                    self.health.withLock { $0 = Health() }
                } catch {
                    self.requeue(batch, after: error)
                    return false
                }
            }
        }
    }

    /// Puts a failed batch back at the front and schedules the next try.
    private func requeue(_ batch: [RequestLogRecord], after error: any Error) {
        let bytes = self.queue.withLock { queue -> Int in
            for row in batch.reversed() {
                queue.rows.prepend(row)
                queue.bytes += row.approximateBytes
            }
            return queue.bytes
        }
        self.queuedBytes.record(bytes)
        let backoff = self.health.withLock { health -> Duration in
            let now = ContinuousClock.now
            health.failingSince = health.failingSince ?? now
            health.retryAt = now + health.backoff
            defer { health.backoff = min(health.backoff * 2, Self.longestBackoff) }
            return health.backoff
        }
        self.logger.error(
            "request log write failed; retrying",
            metadata: [
                "gw.error": "\(error)", "gw.rows": "\(batch.count)", "gw.retry_in_ms": "\(backoff.milliseconds)",
            ]
        )
    }

    /// Applies the retention settings in small steps until nothing is left to do.
    func purge(now: Date = Date()) async {
        let policy = RequestLogRetention(
            rowsBefore: now - self.settings.retention.timeInterval,
            bodiesBefore: now - self.settings.effectiveBodyRetention.timeInterval,
            maxBytes: self.settings.maxBytes
        )
        do {
            var changed = 0
            while !Task.isCancelled {
                let step = try await self.store.purgeStep(policy, limit: Self.purgeBatch)
                guard step > 0 else { break }
                changed += step
                // Let queued writes in between steps.
                await Task.yield()
            }
            if changed > 0 { self.logger.debug("request log retention", metadata: ["gw.rows_changed": "\(changed)"]) }
        } catch {
            self.logger.warning("request log retention failed", metadata: ["gw.error": "\(error)"])
        }
    }
}

extension RequestLogRecord {
    /// Roughly the memory a queued row takes: its text plus a fixed share for the rest.
    var approximateBytes: Int {
        256 + self.id.utf8.count + (self.requestBody?.utf8.count ?? 0) + (self.responseBody?.utf8.count ?? 0)
            + (self.error?.utf8.count ?? 0) + (self.model?.utf8.count ?? 0)
    }
}

extension Duration {
    /// Seconds as a `TimeInterval`, for date arithmetic.
    fileprivate var timeInterval: TimeInterval {
        let (seconds, attoseconds) = self.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// A lock that async code can hold across suspension points: one holder at a time, waiters in order.
///
/// An actor does not do this: it is reentrant, so another caller runs while the holder awaits.
final class AsyncSerialLock: Sendable {
    private let state = Mutex<(held: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// Runs `body` while holding the lock.
    func withLock<T: Sendable>(_ body: () async -> T) async -> T {
        await withCheckedContinuation { continuation in
            let acquired = self.state.withLock { state -> Bool in
                guard state.held else {
                    state.held = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
        let result = await body()
        let next = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.held = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
        return result
    }
}
