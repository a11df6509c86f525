// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import Foundation
import Logging
import SwitchyardCore
import SwitchyardServer
import SwitchyardStorage

/// `switchyard keys create|list|revoke|rotate`: virtual keys, straight in the store the config names.
///
/// A running gateway on the same store sees the change within its key reload interval (2 s).
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, revoke and rotate virtual keys in the gateway's store.",
        subcommands: [Create.self, List.self, Revoke.self, Rotate.self]
    )

    /// The options every `keys` command takes.
    struct StoreOptions: ParsableArguments {
        @Option(name: .shortAndLong, help: "Config file (YAML) naming the store; the embedded default when absent.")
        var config: String?

        /// The store's keys, loaded, and its audit log; the body runs while the store is open.
        func withKeys<T>(_ body: (KeyRegistry, any AuditStore) async throws -> T) async throws -> T {
            var logger = Logger(label: "switchyard")
            logger.logLevel = .error
            do {
                let configuration = try loadConfiguration(path: self.config)
                guard configuration.masterKey != nil else {
                    throw ConfigurationError(
                        "virtual keys need a master key: set `master_key` in the config (or SWITCHYARD_MASTER_KEY); "
                            + "without one the gateway accepts every local call and ignores keys"
                    )
                }
                let store = try await StoreOpener.open(configuration.store, logger: logger)
                let registry = KeyRegistry(store: store)
                try await registry.refresh()
                return try await body(registry, store)
            } catch let error as ConfigurationError {
                throw fail(error)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; its secret is printed once.")
        @OptionGroup var store: StoreOptions
        @Option(help: "Name to recognise the key by.") var name: String
        @Option(help: "Team the key belongs to.") var team: String?
        @Option(help: "client (call models), viewer (also read logs and statistics) or admin.") var role = "client"
        @Option(help: "A model the key may use; repeat for several (default: all).") var model: [String] = []
        @Option(help: "When the key stops working, ISO 8601 (2027-01-31T00:00:00Z).") var expiresAt: String?
        @Flag(help: "Keep the bodies of this key's calls out of the request log.") var zeroDataRetention = false

        func run() async throws {
            guard let role = VirtualKey.Role(rawValue: self.role) else {
                throw ValidationError("--role must be client, viewer or admin")
            }
            var expiry: Date?
            if let text = self.expiresAt {
                guard let date = ISO8601DateFormatter().date(from: text) else {
                    throw ValidationError("--expires-at must be ISO 8601, such as 2027-01-31T00:00:00Z")
                }
                expiry = date
            }
            try await self.store.withKeys { registry, audit in
                let (key, secret) = VirtualKey.create(
                    name: self.name,
                    team: self.team,
                    role: role,
                    models: self.model.isEmpty ? nil : self.model,
                    expiresAt: expiry,
                    zeroDataRetention: self.zeroDataRetention
                )
                try await registry.save(key)
                try await audit.appendAudit(
                    AuditEntry(actor: "cli", action: "key.create", target: key.id, detail: ["name": key.name])
                )
                printJSON(VirtualKeyView(key, secret: secret))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() async throws {
            try await self.store.withKeys { registry, _ in
                let keys = registry.all
                if self.json {
                    printJSON(keys.map { VirtualKeyView($0) })
                    return
                }
                let now = Date()
                var lines = ["ID                    NAME                  TEAM          ROLE    STATE    SECRET"]
                for key in keys {
                    let state =
                        key.revokedAt != nil
                        ? "revoked" : (key.expiresAt.map { now >= $0 } == true ? "expired" : "active")
                    lines.append(
                        [
                            key.id.padding(toLength: 22, withPad: " ", startingAt: 0),
                            key.name.padding(toLength: 22, withPad: " ", startingAt: 0),
                            (key.team ?? "-").padding(toLength: 14, withPad: " ", startingAt: 0),
                            key.role.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0),
                            state.padding(toLength: 9, withPad: " ", startingAt: 0), key.secretPrefix + "…",
                        ]
                        .joined()
                    )
                }
                print(lines.joined(separator: "\n"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: every call with it gets 401.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The key's id (key_…).") var id: String

        func run() async throws {
            try await self.store.withKeys { registry, audit in
                guard var key = registry.key(self.id) else {
                    throw fail(ConfigurationError("there is no key `\(self.id)`"))
                }
                if key.revokedAt == nil {
                    key.revokedAt = Date()
                    try await registry.save(key)
                    try await audit.appendAudit(AuditEntry(actor: "cli", action: "key.revoke", target: key.id))
                }
                printJSON(VirtualKeyView(key))
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a key a new secret, printed once.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The key's id (key_…).") var id: String
        @Option(help: "How long the old secret keeps working (0s to 720h).") var grace = "1h"

        func run() async throws {
            guard let grace = ConfigDuration(parsing: self.grace)?.duration, grace <= .seconds(30 * 86_400) else {
                throw ValidationError("--grace must be a duration such as 0s, 15m or 24h, at most 720h")
            }
            try await self.store.withKeys { registry, audit in
                guard let key = registry.key(self.id), key.revokedAt == nil else {
                    throw fail(ConfigurationError("there is no active key `\(self.id)`"))
                }
                let (rotated, secret) = key.rotated(grace: grace)
                try await registry.save(rotated)
                try await audit.appendAudit(
                    AuditEntry(
                        actor: "cli",
                        action: "key.rotate",
                        target: key.id,
                        detail: ["grace_period_seconds": "\(grace.components.seconds)"]
                    )
                )
                printJSON(VirtualKeyView(rotated, secret: secret))
            }
        }
    }
}

/// Prints `value` as sorted JSON on one line.
func printJSON(_ value: some Encodable) {
    let data = (try? VirtualKeyView.encoder.encode(value)) ?? Data()
    print(String(decoding: data, as: UTF8.self))
}
