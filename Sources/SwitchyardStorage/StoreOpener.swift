// SPDX-License-Identifier: Apache-2.0

import Logging
import SwitchyardCore

/// Opens the store a configuration names, migrated and ready, for commands that work on it
/// directly (`switchyard keys`) rather than through a running gateway.
public enum StoreOpener {
    /// The store at `location`: SQLite opens and migrates its file; PostgreSQL migrates, then its pool
    /// starts with the first query. `memory` keeps nothing between runs, so it is refused.
    public static func open(
        _ location: StoreLocation,
        logger: Logger
    ) async throws -> any RequestLogStore & KeyStore & AuditStore {
        switch location {
        case .sqlite(let path):
            do {
                return try SQLiteStore(path: path)
            } catch let error as ConfigurationError {
                throw error
            } catch {
                throw ConfigurationError("`store`: cannot open the SQLite database `\(path)`: \(error)")
            }
        case .postgres(let postgres):
            let store = PostgresStore(location: postgres, logger: logger)
            try await store.migrate()
            return store
        case .memory:
            throw ConfigurationError(
                "`store: memory` keeps no keys between runs; use `sqlite:PATH` or `postgres://...`"
            )
        }
    }
}
