// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore
import Synchronization

/// The request log and virtual keys in memory: for `store: memory` and tests. Keeps the newest 10,000 rows.
public final class MemoryStore: RequestLogStore, KeyStore, AuditStore {
    private let rows = Mutex<[RequestLogRecord]>([])
    private let keys = Mutex<[String: VirtualKey]>([:])
    private let audit = Mutex<[AuditEntry]>([])
    private let capacity: Int

    /// Creates an empty store.
    public init(capacity: Int = 10_000) { self.capacity = capacity }

    /// Appends `records`, dropping the oldest beyond capacity.
    public func append(_ records: [RequestLogRecord]) async throws {
        let capacity = self.capacity
        self.rows.withLock { rows in
            rows.append(contentsOf: records)
            if rows.count > capacity { rows.removeFirst(rows.count - capacity) }
        }
    }

    /// Matching records, newest first.
    public func records(matching query: RequestLogQuery) async throws -> [RequestLogRecord] {
        self.rows.withLock { rows in
            rows.filter { row in
                (query.model == nil || row.model == query.model)
                    && (query.keyName == nil || row.keyName == query.keyName)
                    && (query.since.map { row.startedAt >= $0 } ?? true)
            }
            .sorted { ($0.startedAt, $0.id) > ($1.startedAt, $1.id) }
            .prefix(query.limit)
            .map { $0 }
        }
    }

    /// One retention step by age; the row capacity already bounds the size.
    public func purgeStep(_ policy: RequestLogRetention, limit: Int) async throws -> Int {
        self.rows.withLock { rows in
            let old = rows.prefix(limit).prefix { $0.startedAt < policy.rowsBefore }.count
            if old > 0 {
                rows.removeFirst(old)
                return old
            }
            var changed = 0
            for index in rows.indices where changed < limit && rows[index].startedAt < policy.bodiesBefore {
                guard rows[index].requestBody != nil || rows[index].responseBody != nil else { continue }
                rows[index].requestBody = nil
                rows[index].responseBody = nil
                changed += 1
            }
            return changed
        }
    }

    /// Always reachable.
    public func checkReachable() async throws {}

    /// Every virtual key.
    public func virtualKeys() async throws -> [VirtualKey] {
        self.keys.withLock { Array($0.values) }.sorted { $0.createdAt < $1.createdAt }
    }

    /// Records `entry` (the newest 10,000 are kept).
    public func appendAudit(_ entry: AuditEntry) async throws {
        self.audit.withLock { entries in
            entries.append(entry)
            if entries.count > 10_000 { entries.removeFirst(entries.count - 10_000) }
        }
    }

    /// Entries newest first.
    public func auditEntries(since: Date?, limit: Int) async throws -> [AuditEntry] {
        self.audit.withLock { entries in
            Array(entries.reversed().lazy.filter { entry in since.map { entry.at >= $0 } ?? true }.prefix(limit))
        }
    }

    /// Inserts or replaces `key`.
    public func saveVirtualKey(_ key: VirtualKey) async throws { self.keys.withLock { $0[key.id] = key } }
}
