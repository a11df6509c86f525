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

    /// Authenticates, then continues with the caller set.
    public func handle(_ call: Call, next: (Call) async throws -> Reply) async throws -> Reply {
        var call = call
        call.caller = try self.authenticator.authenticate(call.presentedKey)
        return try await next(call)
    }
}

/// Knows the master key and the configured keys, as SHA-256 digests only.
///
/// The secrets themselves are not kept: a heap dump or a debugger shows digests, and comparing
/// fixed-length digests in constant time reveals nothing about a key's length either.
public struct Authenticator: Sendable {
    private let masterKey: [UInt8]?
    private let keys: [(digest: [UInt8], caller: Caller)]

    /// Creates an authenticator from the configuration.
    public init(masterKey: String?, keys: [KeyConfiguration]) {
        self.masterKey = masterKey.map(Self.digest)
        self.keys = keys.map {
            (
                Self.digest($0.key),
                Caller(
                    keyName: $0.name,
                    allowedModels: $0.models.map(Set.init),
                    zeroDataRetention: $0.zeroDataRetention
                )
            )
        }
    }

    /// Whether calls need a key.
    public var isEnabled: Bool { self.masterKey != nil || !self.keys.isEmpty }

    /// The caller for `presented`, or a 401.
    public func authenticate(_ presented: String?) throws(GatewayError) -> Caller {
        guard self.isEnabled else { return .anonymous }
        guard let presented, !presented.isEmpty else {
            throw .unauthorized(
                "Missing API key: send `Authorization: Bearer <key>` with the master key or a gateway key."
            )
        }
        let presentedDigest = Self.digest(presented)
        if let master = self.masterKey, Self.constantTimeEquals(master, presentedDigest) {
            return Caller(keyName: "master")
        }
        for (digest, caller) in self.keys where Self.constantTimeEquals(digest, presentedDigest) {
            return caller
        }
        throw .unauthorized("Invalid API key: it is neither the master key nor a key configured on this gateway.")
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
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
