// SPDX-License-Identifier: Apache-2.0

import Foundation
import GRDB
import Logging
import PostgresNIO
import SwitchyardCore
import Testing

@testable import SwitchyardStorage

/// The store backends every store test runs on: SQLite always, PostgreSQL when `scripts/test` started one
/// (`SWITCHYARD_TEST_POSTGRES` holds its URL; the script fails when it cannot start it).
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { self.rawValue }

    static var available: [Backend] {
        ProcessInfo.processInfo.environment["SWITCHYARD_TEST_POSTGRES"] == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    static let logger: Logger = {
        var logger = Logger(label: "store-tests")
        logger.logLevel = .error
        return logger
    }()

    /// Runs `body` with a fresh, migrated store of this backend.
    func withStore(_ body: (any RequestLogStore) async throws -> Void) async throws {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sy-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            try await body(try SQLiteStore(path: directory.appendingPathComponent("log.db").path))
        case .postgres:
            try await Self.withDatabase { location in
                let store = PostgresStore(location: location, logger: Self.logger)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await store.run() }
                    defer { group.cancelAll() }
                    try await store.migrate()
                    try await body(store)
                }
            }
        }
    }

    /// A new, empty PostgreSQL database on the test server for `body`, dropped afterwards.
    static func withDatabase(_ body: (PostgresLocation) async throws -> Void) async throws {
        let server = try PostgresLocation(
            parsing: ProcessInfo.processInfo.environment["SWITCHYARD_TEST_POSTGRES"] ?? ""
        )
        let name = "sy_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await Self.admin(server, "CREATE DATABASE \(name)")
        var location = server
        location.database = name
        do {
            try await body(location)
        } catch {
            try? await Self.admin(server, "DROP DATABASE \(name) WITH (FORCE)")
            throw error
        }
        try await Self.admin(server, "DROP DATABASE \(name) WITH (FORCE)")
    }

    /// Runs one statement on the server's own database.
    static func admin(_ server: PostgresLocation, _ sql: String) async throws {
        let client = PostgresClient(
            configuration: .init(
                host: server.host,
                port: server.port,
                username: server.username,
                password: server.password,
                database: server.database,
                tls: .disable
            ),
            backgroundLogger: Self.logger
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.query(PostgresQuery(unsafeSQL: sql))
        }
    }
}

struct RequestLogStoreTests {
    static func record(_ id: String, model: String = "m", key: String = "k", at seconds: Double) -> RequestLogRecord {
        var record = RequestLogRecord(
            id: id,
            startedAt: Date(timeIntervalSince1970: seconds),
            finishedAt: Date(timeIntervalSince1970: seconds + 0.5),
            keyName: key,
            endpoint: "chat.completions",
            model: model,
            provider: "openai",
            upstreamModel: "gpt-4o-mini",
            status: 200,
            isStreaming: true,
            attempts: 2,
            inputTokens: 12,
            cachedInputTokens: 4,
            outputTokens: 7,
            costUSD: 0.000123,
            latencyMs: 512.5,
            timeToFirstTokenMs: 80.25,
            cacheStatus: "bypass",
            error: nil,
            requestBody: #"{"model":"m"}"#,
            responseBody: "data: [DONE]"
        )
        record.routeReason = "strategy=fallback; order=openai/gpt-4o-mini"
        return record
    }

    @Test(
        "Rows round-trip with every field, filter by model, key and time, newest first; a repeated id replaces",
        arguments: Backend.available
    )
    func roundTrip(_ backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.append([
                Self.record("a", at: 1_700_000_000), Self.record("b", model: "n", at: 1_700_000_010),
                Self.record("c", key: "other", at: 1_700_000_020),
            ])
            let all = try await store.records(matching: RequestLogQuery())
            #expect(all.map(\.id) == ["c", "b", "a"])
            #expect(all.last == Self.record("a", at: 1_700_000_000))
            #expect(try await store.records(matching: RequestLogQuery(model: "n")).map(\.id) == ["b"])
            #expect(try await store.records(matching: RequestLogQuery(keyName: "other")).map(\.id) == ["c"])
            let since = Date(timeIntervalSince1970: 1_700_000_005)
            #expect(try await store.records(matching: RequestLogQuery(since: since)).map(\.id) == ["c", "b"])
            #expect(try await store.records(matching: RequestLogQuery(limit: 1)).map(\.id) == ["c"])
            var replaced = Self.record("a", at: 1_700_000_000)
            replaced.status = 502
            replaced.routeReason = nil
            try await store.append([replaced])
            #expect(try await store.records(matching: RequestLogQuery(model: "m", keyName: "k")) == [replaced])
            try await store.checkReachable()
        }
    }

    @Test(
        "The console's filters: search in id, model, key and error (any case, % and _ literal), status, before, id",
        arguments: Backend.available
    )
    func consoleFilters(_ backend: Backend) async throws {
        try await backend.withStore { store in
            var failed = Self.record("req_b", model: "gpt-4o", at: 1_700_000_010)
            failed.status = 504
            failed.error = "Upstream TIMEOUT after 60s"
            var odd = Self.record("req_c", key: "team_100%", at: 1_700_000_020)
            odd.status = 429
            try await store.append([Self.record("req_a", at: 1_700_000_000), failed, odd])
            func ids(_ query: RequestLogQuery) async throws -> [String] {
                try await store.records(matching: query).map(\.id)
            }
            #expect(try await ids(RequestLogQuery(search: "timeout")) == ["req_b"])
            #expect(try await ids(RequestLogQuery(search: "GPT-4O-MINI")) == ["req_c", "req_b", "req_a"])
            #expect(try await ids(RequestLogQuery(search: "req_")) == ["req_c", "req_b", "req_a"])
            #expect(try await ids(RequestLogQuery(search: "100%")) == ["req_c"])
            // `%` and `_` match themselves, not any text.
            #expect(try await ids(RequestLogQuery(search: "_a")) == ["req_a"])
            #expect(try await ids(RequestLogQuery(search: "%")) == ["req_c"])
            #expect(try await ids(RequestLogQuery(status: 504)) == ["req_b"])
            #expect(
                try await ids(RequestLogQuery(before: Date(timeIntervalSince1970: 1_700_000_020))) == [
                    "req_b", "req_a",
                ]
            )
            #expect(try await ids(RequestLogQuery(id: "req_a")) == ["req_a"])
            #expect(try await ids(RequestLogQuery(model: "m", search: "req", limit: 1)) == ["req_c"])
            // A search window of the two newest rows does not reach the oldest one.
            var windowed = RequestLogQuery(search: "req_a")
            windowed.searchWindow = 2
            #expect(try await ids(windowed) == [])
            windowed.searchWindow = 3
            #expect(try await ids(windowed) == ["req_a"])
            windowed = RequestLogQuery(before: Date(timeIntervalSince1970: 1_700_000_020), search: "req_a")
            windowed.searchWindow = 2
            #expect(try await ids(windowed) == ["req_a"])
        }
    }

    @Test("Retention deletes old rows first, then old bodies, in bounded steps", arguments: Backend.available)
    func retention(_ backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.append((0..<5).map { Self.record("r\($0)", at: 1_000 + Double($0)) })
            let policy = RequestLogRetention(
                rowsBefore: Date(timeIntervalSince1970: 1_002),
                bodiesBefore: Date(timeIntervalSince1970: 1_004),
                maxBytes: Int.max
            )
            #expect(try await store.purgeStep(policy, limit: 1) == 1)
            #expect(try await store.purgeStep(policy, limit: 10) == 1)
            #expect(try await store.purgeStep(policy, limit: 10) == 2)
            #expect(try await store.purgeStep(policy, limit: 10) == 0)
            let rows = try await store.records(matching: RequestLogQuery())
            #expect(rows.map(\.id) == ["r4", "r3", "r2"])
            #expect(rows.map { $0.requestBody != nil } == [true, false, false])
        }
    }
}

struct StoreSchemaTests {
    @Test("Migrations run once; a database migrated by a newer binary is refused with a clear message")
    func sqliteNewerSchema() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("log.db").path
        _ = try SQLiteStore(path: path)
        _ = try SQLiteStore(path: path)
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('0099_future')") }
        let error = #expect(throws: ConfigurationError.self) { try SQLiteStore(path: path) }
        #expect(error?.message.contains("0099_future") == true)
        #expect(error?.message.contains("newer Switchyard") == true)
    }

    @Test(
        "PostgreSQL: migrations run once; a database migrated by a newer binary is refused",
        .enabled(if: Backend.available.contains(.postgres))
    )
    func postgresNewerSchema() async throws {
        try await Backend.withDatabase { location in
            let store = PostgresStore(location: location, logger: Backend.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await store.run() }
                defer { group.cancelAll() }
                try await store.migrate()
                try await store.migrate()
                try await store.append([RequestLogStoreTests.record("x", at: 1)])
                #expect(try await store.records(matching: RequestLogQuery()).count == 1)
            }
            try await Backend.admin(location, "INSERT INTO switchyard_migrations (id) VALUES ('0099_future')")
            let newer = PostgresStore(location: location, logger: Backend.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await newer.run() }
                defer { group.cancelAll() }
                let error = await #expect(throws: ConfigurationError.self) { try await newer.migrate() }
                #expect(error?.message.contains("0099_future") == true)
                #expect(error?.message.contains("***") == false || location.password != nil)
            }
        }
    }

    @Test("postgres:// URLs: host, port, user, password, database and sslmode; the password is never printed")
    func location() throws {
        let location = try PostgresLocation(
            parsing: "postgres://gw:s3cr%40t@db.internal:6543/switchyard?sslmode=require"
        )
        #expect(location.host == "db.internal")
        #expect(location.port == 6543)
        #expect(location.username == "gw")
        #expect(location.password == "s3cr@t")
        #expect(location.database == "switchyard")
        #expect(location.tls == .require)
        #expect(location.description == "postgres://gw:***@db.internal:6543/switchyard")
        #expect(!StoreLocation.postgres(location).description.contains("s3cr"))
        let defaults = try PostgresLocation(parsing: "postgresql://app@127.0.0.1")
        #expect((defaults.port, defaults.database, defaults.tls, defaults.password) == (5432, "app", .prefer, nil))
        for bad in ["postgres://", "postgres://h/db?sslmode=maybe", "postgres://h/db?timeout=3", "postgres://h:0/db"] {
            #expect(throws: ConfigurationError.self) { try PostgresLocation(parsing: bad) }
        }
    }
}
