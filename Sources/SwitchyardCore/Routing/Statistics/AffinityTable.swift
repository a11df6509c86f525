// SPDX-License-Identifier: Apache-2.0

import Synchronization

/// Remembers which route a key (a conversation, a prompt prefix) went to, for a while.
///
/// Bounded: past `capacity` keys, the least recently used eighth is dropped at once, so the table
/// never grows with the number of clients and eviction is rare.
public final class AffinityTable: Sendable {
    private struct Entry {
        var route: String
        var lastUsed: ContinuousClock.Instant
    }

    /// Most keys kept.
    public let capacity: Int
    /// How long a key is kept after its last use.
    public let lifetime: Duration
    private let entries = Mutex<[Int: Entry]>([:])

    /// Creates an empty table.
    public init(capacity: Int, lifetime: Duration) {
        self.capacity = max(1, capacity)
        self.lifetime = lifetime
    }

    /// The route `key` went to, unless that was longer than `lifetime` ago.
    public func route(for key: Int, now: ContinuousClock.Instant = .now) -> String? {
        self.entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard now - entry.lastUsed < self.lifetime else {
                entries[key] = nil
                return nil
            }
            return entry.route
        }
    }

    /// Records that `key` went to `route`.
    public func remember(_ key: Int, route: String, now: ContinuousClock.Instant = .now) {
        self.entries.withLock { entries in
            if entries[key] == nil, entries.count >= self.capacity {
                let oldest = entries.sorted { $0.value.lastUsed < $1.value.lastUsed }.prefix(max(1, self.capacity / 8))
                for (stale, _) in oldest { entries[stale] = nil }
            }
            entries[key] = Entry(route: route, lastUsed: now)
        }
    }

    /// Keys held.
    public var count: Int { self.entries.withLock { $0.count } }
}
