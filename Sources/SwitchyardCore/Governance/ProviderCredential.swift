// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation
import Synchronization

/// A team's own API key for one provider (bring your own key), as the store keeps it: sealed with
/// AES-GCM under the gateway's credential key, bound to its team and provider.
public struct SealedCredential: Sendable, Codable, Equatable {
    /// The team whose calls use it.
    public var team: String
    /// The configured provider it is for.
    public var provider: String
    /// Nonce, ciphertext and tag (AES-GCM's combined form), base64.
    public var sealed: String
    /// The key's first and last characters, to recognise it (`sk-…a1b2`).
    public var hint: String
    /// When it was stored.
    public var createdAt: Date

    /// Creates a sealed credential.
    public init(team: String, provider: String, sealed: String, hint: String, createdAt: Date) {
        self.team = team
        self.provider = provider
        self.sealed = sealed
        self.hint = hint
        self.createdAt = createdAt
    }
}

/// Where sealed credentials are kept; every instance on the same store sees the same ones.
public protocol CredentialStore: Sendable {
    /// Every sealed credential.
    func sealedCredentials() async throws -> [SealedCredential]
    /// Inserts `credential`, or replaces the one for its team and provider.
    func saveSealedCredential(_ credential: SealedCredential) async throws
    /// Removes the credential of `team` for `provider`.
    func deleteSealedCredential(team: String, provider: String) async throws
}

/// Seals and opens provider credentials with the gateway's credential key (AES-256-GCM).
///
/// The team and provider are authenticated data: a sealed key moved to another row of the table
/// does not open.
public struct CredentialSealer: Sendable {
    private let key: SymmetricKey

    /// A sealer from the base64 text of 32 random bytes (`openssl rand -base64 32`); `nil` for anything else.
    public init?(base64 text: String) {
        guard let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespaces)), bytes.count == 32 else {
            return nil
        }
        self.key = SymmetricKey(data: bytes)
    }

    /// `secret` sealed for `team` and `provider`.
    public func seal(_ secret: String, team: String, provider: String, now: Date = Date()) throws -> SealedCredential {
        let box = try AES.GCM.seal(Array(secret.utf8), using: self.key, authenticating: Self.context(team, provider))
        guard let combined = box.combined else { throw CredentialError.sealFailed }
        return SealedCredential(
            team: team,
            provider: provider,
            sealed: combined.base64EncodedString(),
            hint: Self.hint(secret),
            createdAt: now
        )
    }

    /// The secret inside `credential`; throws when it was sealed under another key or for another row.
    public func open(_ credential: SealedCredential) throws -> String {
        guard let combined = Data(base64Encoded: credential.sealed) else { throw CredentialError.unreadable }
        let box = try AES.GCM.SealedBox(combined: combined)
        let plain = try AES.GCM.open(
            box,
            using: self.key,
            authenticating: Self.context(credential.team, credential.provider)
        )
        return String(decoding: plain, as: UTF8.self)
    }

    private static func context(_ team: String, _ provider: String) -> [UInt8] {
        Array("switchyard-credential\u{0}\(team)\u{0}\(provider)".utf8)
    }

    /// The first 3 and last 4 characters of a long enough key; only `…` for a short one.
    static func hint(_ secret: String) -> String {
        secret.count >= 16 ? "\(secret.prefix(3))…\(secret.suffix(4))" : "…"
    }
}

/// A credential could not be sealed or read.
public enum CredentialError: Error, Sendable {
    /// AES-GCM gave no combined form.
    case sealFailed
    /// The stored text is not base64.
    case unreadable
}

/// The teams' own provider keys, opened and held in memory so a call looks its key up without a
/// database round trip; reloaded from the store with the virtual keys.
public final class CredentialVault: Sendable {
    /// Where sealed credentials live.
    public let store: any CredentialStore
    /// Seals and opens them.
    public let sealer: CredentialSealer
    private let keys = Mutex<[String: [String: String]]>([:])

    /// A vault over `store`; call ``refresh()`` before use.
    public init(store: any CredentialStore, sealer: CredentialSealer) {
        self.store = store
        self.sealer = sealer
    }

    /// Reloads and opens every credential; one that does not open (another credential key) is left out.
    /// Returns how many did not open.
    @discardableResult
    public func refresh() async throws -> Int {
        var opened: [String: [String: String]] = [:]
        var failed = 0
        for credential in try await self.store.sealedCredentials() {
            guard let secret = try? self.sealer.open(credential) else {
                failed += 1
                continue
            }
            opened[credential.team, default: [:]][credential.provider] = secret
        }
        self.keys.withLock { $0 = opened }
        return failed
    }

    /// The key `team` brought for `provider`, if any.
    public func key(team: String, provider: String) -> String? {
        self.keys.withLock { $0[team]?[provider] }
    }

    /// Seals and stores `secret` for `team` and `provider`, and applies it here at once.
    public func save(_ secret: String, team: String, provider: String) async throws -> SealedCredential {
        let sealed = try self.sealer.seal(secret, team: team, provider: provider)
        try await self.store.saveSealedCredential(sealed)
        self.keys.withLock { $0[team, default: [:]][provider] = secret }
        return sealed
    }

    /// Removes the key of `team` for `provider`.
    public func delete(team: String, provider: String) async throws {
        try await self.store.deleteSealedCredential(team: team, provider: provider)
        _ = self.keys.withLock { $0[team]?.removeValue(forKey: provider) }
    }
}
