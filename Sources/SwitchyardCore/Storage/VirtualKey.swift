// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// A key created through the admin API or `switchyard keys`, as the store keeps it: its settings and
/// salted hashes of its secret, never the secret.
public struct VirtualKey: Sendable, Codable, Equatable {
    /// What a key may do.
    public enum Role: String, Sendable, Codable, CaseIterable {
        /// Calls models (the default).
        case client
        /// Everything, the admin API included.
        case admin
        /// Calls models and reads logs, spend and statistics.
        case viewer
    }

    /// A salted hash of one secret.
    public struct SecretHash: Sendable, Codable, Equatable {
        /// Random salt, hex.
        public var salt: String
        /// HMAC-SHA256 of the secret keyed by the salt, hex.
        public var hash: String

        /// Hashes `secret` with a fresh salt.
        public init(secret: String) {
            var generator = SystemRandomNumberGenerator()
            let salt = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            self.salt = Hex.lowercase(salt)
            self.hash = Hex.lowercase(Self.mac(secret, salt: salt))
        }

        /// Whether `secret` hashes to this, compared in constant time.
        public func matches(_ secret: String) -> Bool {
            guard let salt = Hex.bytes(self.salt), let expected = Hex.bytes(self.hash) else { return false }
            return Authenticator.constantTimeEquals(Self.mac(secret, salt: salt), expected)
        }

        private static func mac(_ secret: String, salt: [UInt8]) -> [UInt8] {
            Array(HMAC<SHA256>.authenticationCode(for: Array(secret.utf8), using: SymmetricKey(data: salt)))
        }
    }

    /// `key_` and 16 hex characters; also inside the secret, so a presented key is found without a scan.
    public var id: String
    /// Display name.
    public var name: String
    /// The team the key belongs to, if any.
    public var team: String?
    /// What the key may do.
    public var role: Role
    /// Public models the key may use; `nil` allows all.
    public var models: [String]?
    /// When the key stops working, if ever.
    public var expiresAt: Date?
    /// Whether bodies of its calls are kept out of the request log.
    public var zeroDataRetention: Bool
    /// Free-form labels.
    public var metadata: [String: String]
    /// USD per period the key may spend, if capped.
    public var budget: Budget?
    /// Requests and tokens per minute, if limited.
    public var limits: RateLimits?
    /// When it was created.
    public var createdAt: Date
    /// When it was revoked, if it was.
    public var revokedAt: Date?
    /// The first characters of the current secret, to recognise it in lists.
    public var secretPrefix: String
    /// The current secret's hash.
    public var secret: SecretHash
    /// The secret before the last rotation, valid until ``previousSecretValidUntil``.
    public var previousSecret: SecretHash?
    /// The end of the rotation grace period.
    public var previousSecretValidUntil: Date?

    /// Secrets start with this.
    public static let secretPrefix = "sk-sy-"

    /// A new key and its secret (shown once, never stored).
    public static func create(
        name: String,
        team: String? = nil,
        role: Role = .client,
        models: [String]? = nil,
        expiresAt: Date? = nil,
        zeroDataRetention: Bool = false,
        metadata: [String: String] = [:],
        budget: Budget? = nil,
        limits: RateLimits? = nil,
        now: Date = Date()
    ) -> (key: VirtualKey, secret: String) {
        var generator = SystemRandomNumberGenerator()
        let id = "key_" + Hex.lowercase((0..<8).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let secret = Self.makeSecret(id: id)
        let key = VirtualKey(
            id: id,
            name: name,
            team: team,
            role: role,
            models: models,
            expiresAt: expiresAt,
            zeroDataRetention: zeroDataRetention,
            metadata: metadata,
            budget: budget,
            limits: limits,
            createdAt: now,
            revokedAt: nil,
            secretPrefix: String(secret.prefix(Self.secretPrefix.count + 20)),
            secret: SecretHash(secret: secret),
            previousSecret: nil,
            previousSecretValidUntil: nil
        )
        return (key, secret)
    }

    /// This key with a new secret; the old one keeps working for `grace`.
    public func rotated(grace: Duration, now: Date = Date()) -> (key: VirtualKey, secret: String) {
        let secret = Self.makeSecret(id: self.id)
        var key = self
        key.previousSecret = self.secret
        key.previousSecretValidUntil = now.addingTimeInterval(Double(grace.components.seconds))
        key.secret = SecretHash(secret: secret)
        key.secretPrefix = String(secret.prefix(Self.secretPrefix.count + 20))
        return (key, secret)
    }

    /// `sk-sy-key_<16 hex>-<43 base64url characters>`: the id, then 256 random bits.
    private static func makeSecret(id: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let text = Data(random).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return Self.secretPrefix + id + "-" + text
    }

    /// The key id inside a presented secret, if it has the shape of one.
    public static func id(inSecret secret: String) -> String? {
        guard secret.hasPrefix(Self.secretPrefix) else { return nil }
        let rest = secret.dropFirst(Self.secretPrefix.count)
        let id = rest.prefix(20)
        guard id.count == 20, id.hasPrefix("key_"), id.dropFirst(4).allSatisfy(\.isHexDigit),
            rest.dropFirst(20).first == "-"
        else { return nil }
        return String(id)
    }

    /// Why `secret` does not open this key now, or `nil` when it does.
    public func refusal(of secret: String, now: Date = Date()) -> String? {
        let current = self.secret.matches(secret)
        let previous =
            !current && (self.previousSecretValidUntil.map { now < $0 } ?? false)
            && (self.previousSecret?.matches(secret) ?? false)
        guard current || previous else { return "Invalid API key." }
        if self.revokedAt != nil { return "This API key was revoked." }
        if let expiry = self.expiresAt, now >= expiry { return "This API key expired." }
        return nil
    }
}

/// Where virtual keys are kept; every instance on the same store sees the same keys.
public protocol KeyStore: Sendable {
    /// Every key, revoked ones included.
    func virtualKeys() async throws -> [VirtualKey]
    /// Inserts `key`, or replaces the key with its id.
    func saveVirtualKey(_ key: VirtualKey) async throws
}
