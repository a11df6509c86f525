// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization

/// The virtual keys and teams of the store, held in memory so that checking a key costs no database round trip.
///
/// ``refresh()`` reloads every key from the store (a background service calls it every
/// ``refreshInterval``); changes made through this instance apply at once, changes made through
/// another instance within one interval. A key is found by the id inside its secret, then checked
/// against its salted hash in constant time.
public final class KeyRegistry: Sendable {
    /// Where the keys live.
    public let store: any KeyStore
    /// How often the keys are reloaded.
    public let refreshInterval: Duration
    private let keys = Mutex<[String: VirtualKey]>([:])
    private let teamsByName = Mutex<[String: Team]>([:])
    /// Where teams live, when the store keeps them.
    public let teamStore: (any TeamStore)?

    /// A registry over `store`; call ``refresh()`` before use.
    public init(store: any KeyStore, refreshInterval: Duration = .seconds(2)) {
        self.store = store
        self.teamStore = store as? any TeamStore
        self.refreshInterval = refreshInterval
    }

    /// Reloads every key and team from the store.
    public func refresh() async throws {
        let loaded = try await self.store.virtualKeys()
        let teams = try await self.teamStore?.teams() ?? []
        self.keys.withLock { keys in keys = Dictionary(loaded.map { ($0.id, $0) }, uniquingKeysWith: { $1 }) }
        self.teamsByName.withLock { $0 = Dictionary(teams.map { ($0.name, $0) }, uniquingKeysWith: { $1 }) }
    }

    /// Every team, by name.
    public var teams: [Team] { self.teamsByName.withLock { $0.values.sorted { $0.name < $1.name } } }

    /// The team named `name`.
    public func team(_ name: String) -> Team? { self.teamsByName.withLock { $0[name] } }

    /// Stores `team` and applies it here at once.
    public func save(_ team: Team) async throws {
        guard let store = self.teamStore else { throw GatewayError.internalError("This store keeps no teams.") }
        try await store.saveTeam(team)
        self.teamsByName.withLock { $0[team.name] = team }
    }

    /// Removes the team named `name` here and in the store.
    public func deleteTeam(_ name: String) async throws {
        guard let store = self.teamStore else { throw GatewayError.internalError("This store keeps no teams.") }
        try await store.deleteTeam(name)
        _ = self.teamsByName.withLock { $0.removeValue(forKey: name) }
    }

    /// Every key, newest first.
    public var all: [VirtualKey] {
        self.keys.withLock { Array($0.values) }.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
    }

    /// The key with `id`.
    public func key(_ id: String) -> VirtualKey? { self.keys.withLock { $0[id] } }

    /// Stores `key` and applies it here at once.
    public func save(_ key: VirtualKey) async throws {
        try await self.store.saveVirtualKey(key)
        self.keys.withLock { $0[key.id] = key }
    }

    /// The caller for a presented secret of a virtual key: `nil` when it is not shaped like one,
    /// a 401 when it is unknown, revoked, expired or wrong.
    public func caller(for secret: String, now: Date = Date()) throws(GatewayError) -> Caller? {
        guard let id = VirtualKey.id(inSecret: secret) else { return nil }
        guard let key = self.key(id) else { throw .unauthorized("Invalid API key.") }
        if let refusal = key.refusal(of: secret, now: now) { throw .unauthorized(refusal) }
        return Self.caller(of: key)
    }

    /// The caller a valid secret of `key` stands for.
    public static func caller(of key: VirtualKey) -> Caller {
        Caller(
            keyName: key.name,
            allowedModels: key.models.map(Set.init),
            zeroDataRetention: key.zeroDataRetention,
            keyID: key.id,
            team: key.team,
            role: key.role,
            policy: SpendPolicy(budget: key.budget, limits: key.limits)
        )
    }
}
