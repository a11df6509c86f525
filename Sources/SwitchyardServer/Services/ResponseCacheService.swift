// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging
import ServiceLifecycle
import SwitchyardCore

/// Keeps the response cache: stores queued answers, loads the semantic index at start and then
/// adds what other instances stored every ``refreshInterval``, and purges expired entries every
/// ``purgeInterval``, all off the request path. At shutdown the queued answers are stored first, for
/// at most ``drainLimit``; what is left then is not cached.
struct ResponseCacheService: Service {
    let cache: ResponseCache
    let logger: Logger
    /// Whether other instances store entries too (a shared PostgreSQL store), so the index must
    /// look for theirs; otherwise it is loaded once and fed by this instance's writes.
    let shared: Bool
    /// How often entries stored by other instances reach this one's semantic index.
    var refreshInterval = Duration.seconds(2)
    /// How often expired entries are removed.
    var purgeInterval = Duration.seconds(60)
    /// The longest shutdown waits for queued answers to be stored.
    var drainLimit = Duration.seconds(5)

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.cache.runWrites() }
            group.addTask { await self.maintain() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Refreshes the index and purges until shutdown, then lets the writer finish.
    private func maintain() async {
        await self.attempt("cache index load") { try await self.cache.refreshIndex() }
        var lastPurge = ContinuousClock.now
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await Task.sleep(for: self.refreshInterval)
            if self.shared { await self.attempt("cache index refresh") { try await self.cache.refreshIndex() } }
            if ContinuousClock.now - lastPurge >= self.purgeInterval {
                lastPurge = .now
                await self.attempt("cache purge") { try await self.cache.purge() }
            }
        }
        self.cache.finishWrites()
        // The writer ends once the queue is drained; if that takes longer (a slow store or embeddings
        // model), returning cancels it.
        try? await Task.sleep(for: self.drainLimit)
    }

    private func attempt(_ what: String, _ body: () async throws -> Void) async {
        do {
            try await body()
        } catch {
            self.logger.warning("\(what) failed", metadata: ["gw.error": "\(String(reflecting: type(of: error)))"])
        }
    }
}
