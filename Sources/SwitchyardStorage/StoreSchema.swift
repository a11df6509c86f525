// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore

/// The store's schema versions, the same numbering on SQLite and PostgreSQL.
///
/// Each migration is applied once, in order, at start. A database that has a migration this
/// binary does not know was written by a newer Switchyard: the gateway refuses to start on it
/// rather than run an older schema's queries against it.
public enum StoreSchema {
    /// Every migration's identifier, oldest first.
    public static let migrations = [
        "0001_request_log", "0002_route_reason", "0003_virtual_keys", "0004_audit_log",
        "0005_request_log_key_and_team", "0006_quotas_and_teams",
        "0007_provider_credentials",
    ]

    /// Quota counters (spend per window), each instance's holds on them, alerts already sent, and
    /// teams: the same statements on both backends.
    static let quotaTables = [
        """
        CREATE TABLE quota_usage (quota TEXT NOT NULL, quota_window TEXT NOT NULL,
          spent DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (quota, quota_window))
        """,
        """
        CREATE TABLE quota_holds (quota TEXT NOT NULL, quota_window TEXT NOT NULL, holder TEXT NOT NULL,
          amount DOUBLE PRECISION NOT NULL, renewed_at DOUBLE PRECISION NOT NULL,
          PRIMARY KEY (quota, quota_window, holder))
        """,
        """
        CREATE TABLE quota_marks (quota TEXT NOT NULL, quota_window TEXT NOT NULL, mark TEXT NOT NULL,
          at DOUBLE PRECISION NOT NULL, PRIMARY KEY (quota, quota_window, mark))
        """,
        "CREATE TABLE teams (name TEXT PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL, data TEXT NOT NULL)",
    ]

    /// Teams' own provider keys, sealed (``SealedCredential`` as JSON), and the credential kind of each
    /// logged call.
    static let credentialTables = [
        """
        CREATE TABLE provider_credentials (team TEXT NOT NULL, provider TEXT NOT NULL,
          created_at DOUBLE PRECISION NOT NULL, data TEXT NOT NULL, PRIMARY KEY (team, provider))
        """,
        "ALTER TABLE request_log ADD COLUMN credential TEXT",
    ]

    /// Deletes holds not renewed since the bound time, rate-limit minutes (windows `r…`) not touched
    /// since then, and alert marks older than the longest budget period (so a month's marks outlive
    /// it); budget windows stay, as the history of what was spent.
    static let quotaPurge = [
        "DELETE FROM quota_holds WHERE renewed_at < $1",
        "DELETE FROM quota_usage WHERE quota_window LIKE 'r%' AND updated_at < $1",
        "DELETE FROM quota_marks WHERE at < $1 - 3000000",
    ]

    /// Virtual keys are kept as JSON of ``VirtualKey`` (salted hashes, never secrets) beside their id.
    static let keyEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }()

    /// Reads what ``keyEncoder`` wrote.
    static let keyDecoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }()

    /// The text of a JSON `data` column for `value`.
    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try Self.keyEncoder.encode(value), as: UTF8.self)
    }

    /// The value a JSON `data` column holds.
    static func value<Value: Decodable>(_ text: String, as type: Value.Type = Value.self) throws -> Value {
        try Self.keyDecoder.decode(Value.self, from: Data(text.utf8))
    }

    /// The error for a database that a newer binary migrated.
    static func newerThanBinary(_ unknown: some Sequence<String>, store: String) -> ConfigurationError {
        ConfigurationError(
            "`store`: \(store) was migrated by a newer Switchyard (it has \(unknown.sorted().joined(separator: ", ")), "
                + "this binary knows up to \(Self.migrations.last ?? "none")); run that version or a newer one"
        )
    }
}
