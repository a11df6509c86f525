// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// Turns the presented key into a ``Caller``, or ends the request with 401.
///
/// Without a master key the gateway listens on loopback only and every caller is anonymous.
/// With one, every call needs the master key or a key from the configuration.
public struct AuthenticationStage: Stage {
    /// Checks presented keys.
    public let authenticator: Authenticator

    /// Creates the stage.
    public init(authenticator: Authenticator) { self.authenticator = authenticator }

    /// Authenticates, then continues with the caller set. A call that arrives with its caller
    /// (the console's playground, for its signed-in user) is not authenticated again.
    public func handle(_ call: Call, next: (Call) async throws -> Reply) async throws -> Reply {
        guard call.caller == nil else { return try await next(call) }
        var call = call
        call.caller = try await self.authenticator.authenticate(call.presentedKey)
        return try await next(call)
    }
}

/// Knows the master key and the configured keys, as SHA-256 digests only, and the virtual keys of the
/// store through a ``KeyRegistry``.
///
/// The secrets themselves are not kept: a heap dump or a debugger shows digests, and comparing
/// fixed-length digests in constant time reveals nothing about a key's length either.
public struct Authenticator: Sendable {
    private let masterKey: [UInt8]?
    private let keys: [(digest: [UInt8], caller: Caller)]
    /// The store's virtual keys, when the gateway has a store.
    public let registry: KeyRegistry?
    /// Signed tokens accepted as keys (OIDC), when configured.
    public let tokens: (any TokenAuthenticator)?

    /// Creates an authenticator from the configuration.
    public init(
        masterKey: String?,
        keys: [KeyConfiguration],
        registry: KeyRegistry? = nil,
        tokens: (any TokenAuthenticator)? = nil
    ) {
        self.registry = registry
        self.tokens = tokens
        self.masterKey = masterKey.map(Self.digest)
        self.keys = keys.map {
            (
                Self.digest($0.key),
                Caller(
                    keyName: $0.name,
                    allowedModels: $0.models.map(Set.init),
                    zeroDataRetention: $0.zeroDataRetention,
                    team: $0.team,
                    policy: $0.policy
                )
            )
        }
    }

    /// Whether calls need a key.
    public var isEnabled: Bool { self.masterKey != nil || !self.keys.isEmpty || self.tokens != nil }

    /// The caller for `presented` (a gateway key, or a signed token when tokens are accepted), or a 401.
    public func authenticate(_ presented: String?) async throws(GatewayError) -> Caller {
        if let tokens = self.tokens, let presented, let caller = try await tokens.caller(forToken: presented) {
            return caller
        }
        return try self.authenticateKey(presented)
    }

    /// The caller for a presented gateway key, or a 401.
    public func authenticateKey(_ presented: String?) throws(GatewayError) -> Caller {
        guard self.isEnabled else { return .anonymous }
        guard let presented, !presented.isEmpty else {
            throw .unauthorized(
                "Missing API key: send `Authorization: Bearer <key>` with the master key or a gateway key."
            )
        }
        let presentedDigest = Self.digest(presented)
        if let master = self.masterKey, Self.constantTimeEquals(master, presentedDigest) {
            return Caller(keyName: "master", role: .admin)
        }
        if let caller = try self.registry?.caller(for: presented) { return caller }
        for (digest, caller) in self.keys where Self.constantTimeEquals(digest, presentedDigest) {
            return caller
        }
        throw .unauthorized("Invalid API key: it is neither the master key nor a key configured on this gateway.")
    }

    /// The caller for the admin API: the master key, an `admin` key, or (to read) a `viewer` key;
    /// a 401 without a valid key, a 403 for a key whose role does not allow it.
    public func authenticateAdmin(_ presented: String?, writes: Bool) async throws(GatewayError) -> Caller {
        if !self.isEnabled { return Caller(keyName: "anonymous", role: .admin) }
        guard let presented, !presented.isEmpty else {
            throw .unauthorized("The admin API needs a key: send `Authorization: Bearer <master key or admin key>`.")
        }
        let caller: Caller
        do {
            caller = try await self.authenticate(presented)
        } catch {
            throw .unauthorized("The admin API needs the master key or an admin key; this key is not one.")
        }
        switch caller.role {
        case .admin: return caller
        case .viewer where !writes: return caller
        case .viewer:
            throw .forbidden("The key `\(caller.keyName)` is a viewer key: it may read, not change, the admin API.")
        case .client: throw .forbidden("The key `\(caller.keyName)` may call models, not the admin API.")
        }
    }

    /// Whether `presented` is the master key (admin API).
    public func isMaster(_ presented: String?) -> Bool {
        guard let master = self.masterKey else { return !self.isEnabled }
        guard let presented else { return false }
        return Self.constantTimeEquals(master, Self.digest(presented))
    }

    /// The SHA-256 digest of a key.
    static func digest(_ key: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(key.utf8)))
    }

    /// Compares without an early exit, so response timing does not reveal how much of a key matched.
    public static func constantTimeEquals<Bytes: RandomAccessCollection<UInt8>>(_ a: Bytes, _ b: Bytes) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
