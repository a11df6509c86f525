// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization

/// The virtual keys of the store, held in memory so that checking a key costs no database round trip.
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

    /// A registry over `store`; call ``refresh()`` before use.
    public init(store: any KeyStore, refreshInterval: Duration = .seconds(2)) {
        self.store = store
        self.refreshInterval = refreshInterval
    }

    /// Reloads every key from the store.
    public func refresh() async throws {
        let loaded = try await self.store.virtualKeys()
        self.keys.withLock { keys in keys = Dictionary(loaded.map { ($0.id, $0) }, uniquingKeysWith: { $1 }) }
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
        return Caller(
            keyName: key.name,
            allowedModels: key.models.map(Set.init),
            zeroDataRetention: key.zeroDataRetention,
            keyID: key.id,
            team: key.team,
            role: key.role
        )
    }
}
