// SPDX-License-Identifier: Apache-2.0

/// SwitchyardStorage implements SwitchyardCore's store protocols; it is the only module that speaks SQL.
///
/// SQLite (through GRDB) is the embedded default; `MemoryStore` serves tests and
/// `store: memory`. Migrations are numbered and never edited once released.
public enum SwitchyardStorageModule {}
