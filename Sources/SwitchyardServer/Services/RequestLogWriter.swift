// SPDX-License-Identifier: Apache-2.0

import Logging
import ServiceLifecycle
import SwitchyardCore
import Synchronization

/// Queues request log records in memory and writes them to the store in batches.
///
/// Requests only append to a buffer under a lock; this service writes a batch when it fills or
/// when `request_log.flush_interval` passes, and drains the buffer on graceful shutdown so a
/// SIGTERM loses nothing.
public final class RequestLogWriter: RequestLogSink, Service {
    private let store: any RequestLogStore
    private let batchSize: Int
    private let flushInterval: Duration
    private let logger: Logger
    private let pending = Mutex<[RequestLogRecord]>([])
    private let wakeUp: AsyncStream<Void>.Continuation
    private let wakeUps: AsyncStream<Void>
    private let writeLock = WriteSerializer()

    /// Creates a writer for `store`.
    public init(store: any RequestLogStore, batchSize: Int, flushInterval: Duration, logger: Logger) {
        self.store = store
        self.batchSize = batchSize
        self.flushInterval = flushInterval
        self.logger = logger
        (self.wakeUps, self.wakeUp) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Most rows held in memory while the store is unavailable; beyond it the oldest are dropped.
    public static let maxPending = 100_000

    /// Queues `record`; wakes the writer early when a batch is full.
    public func enqueue(_ record: RequestLogRecord) {
        let (count, dropped) = self.pending.withLock { pending -> (Int, Bool) in
            pending.append(record)
            guard pending.count > Self.maxPending else { return (pending.count, false) }
            pending.removeFirst()
            return (pending.count, true)
        }
        if dropped { self.logger.warning("request log queue full, dropping the oldest row") }
        if count >= self.batchSize { self.wakeUp.yield() }
    }

    /// Writes batches until graceful shutdown, then writes what is left.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.flushInterval)
                        self.wakeUp.yield()
                    }
                }
                for await _ in self.wakeUps {
                    await self.flush()
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.wakeUp.finish()
        }
        await self.flush()
    }

    /// Writes everything queued so far; returns when it is stored.
    public func flush() async {
        await self.writeLock.run {
            while true {
                let batch = self.pending.withLock { pending -> [RequestLogRecord] in
                    let batch = Array(pending.prefix(self.batchSize))
                    pending.removeFirst(batch.count)
                    return batch
                }
                guard !batch.isEmpty else { return }
                do {
                    try await self.store.append(batch)
                } catch {
                    // Keep the rows for the next flush: a store that is briefly unavailable loses nothing.
                    self.logger.error(
                        "request log write failed",
                        metadata: ["gw.error": "\(error)", "gw.rows": "\(batch.count)"]
                    )
                    self.pending.withLock { $0.insert(contentsOf: batch, at: 0) }
                    return
                }
            }
        }
    }
}

/// Runs one write at a time, so batches reach the store in order.
private actor WriteSerializer {
    func run(_ body: @Sendable () async -> Void) async { await body() }
}
