// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One admin action: who did what to what, and when (`GET /admin/audit`).
public struct AuditEntry: Sendable, Codable, Equatable {
    /// Unique id, time-ordered.
    public var id: String
    /// When it happened.
    public var at: Date
    /// Who: `master`, a key's name and id, or `cli`.
    public var actor: String
    /// What: `key.create`, `key.revoke`, `key.rotate`.
    public var action: String
    /// The object acted on (a key id), if any.
    public var target: String?
    /// Settings of the action, never secrets.
    public var detail: [String: String]

    /// Creates an entry stamped now.
    public init(actor: String, action: String, target: String?, detail: [String: String] = [:], at: Date = Date()) {
        self.id = "aud_" + RequestID.make().dropFirst(4)
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.detail = detail
    }

    /// The actor name for a caller: its key name, and the key id for a virtual key.
    public static func actor(_ caller: Caller) -> String {
        caller.keyID.map { "\(caller.keyName) (\($0))" } ?? caller.keyName
    }
}

/// Where admin actions are recorded; shared by every instance on the same store.
public protocol AuditStore: Sendable {
    /// Records `entry`.
    func appendAudit(_ entry: AuditEntry) async throws
    /// Entries newest first, at most `limit`, at or after `since` when given.
    func auditEntries(since: Date?, limit: Int) async throws -> [AuditEntry]
}
