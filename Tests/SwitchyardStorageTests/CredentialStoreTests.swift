// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore
import Testing

@testable import SwitchyardStorage

/// Teams' own provider keys: sealed with AES-GCM, bound to their row, stored without the key.
struct CredentialStoreTests {
    static let sealer = CredentialSealer(base64: Data((0..<32).map { UInt8($0) }).base64EncodedString())!
    static let secret = "sk-team-own-key-0123456789abcdef"

    @Test("A sealed key opens only under its credential key and for its own team and provider")
    func sealing() throws {
        let sealed = try Self.sealer.seal(Self.secret, team: "research", provider: "openai")
        #expect(try Self.sealer.open(sealed) == Self.secret)
        #expect(sealed.hint == "sk-…cdef")
        #expect(!sealed.sealed.contains(Self.secret))
        // Sealing twice gives different ciphertexts: the nonce is fresh each time.
        #expect(try Self.sealer.seal(Self.secret, team: "research", provider: "openai").sealed != sealed.sealed)
        var moved = sealed
        moved.team = "intruders"
        #expect(throws: (any Error).self) { try Self.sealer.open(moved) }
        moved = sealed
        moved.provider = "anthropic"
        #expect(throws: (any Error).self) { try Self.sealer.open(moved) }
        let other = try #require(CredentialSealer(base64: Data(repeating: 7, count: 32).base64EncodedString()))
        #expect(throws: (any Error).self) { try other.open(sealed) }
        #expect(CredentialSealer(base64: "c2hvcnQ=") == nil)
        #expect(CredentialSealer(base64: "not base64 at all") == nil)
    }

    @Test(
        "The vault stores sealed keys, finds them per team and provider, and forgets deleted ones",
        arguments: Backend.available
    )
    func vault(_ backend: Backend) async throws {
        try await backend.withStore { store in
            let credentials = try #require(store as? any CredentialStore)
            let vault = CredentialVault(store: credentials, sealer: Self.sealer)
            _ = try await vault.save(Self.secret, team: "research", provider: "openai")
            _ = try await vault.save("sk-ant-other-team-key-000000", team: "ops", provider: "anthropic")
            let fresh = CredentialVault(store: credentials, sealer: Self.sealer)
            #expect(try await fresh.refresh() == 0)
            #expect(fresh.key(team: "research", provider: "openai") == Self.secret)
            #expect(fresh.key(team: "research", provider: "anthropic") == nil)
            #expect(fresh.key(team: "ops", provider: "anthropic") == "sk-ant-other-team-key-000000")
            // What the table holds: sealed text and a hint, never the key.
            let raw = try await Self.rawData(store)
            #expect(raw.count == 2)
            #expect(raw.allSatisfy { !$0.contains(Self.secret) && !$0.contains("sk-ant-other-team-key-000000") })
            // Under another credential key nothing opens.
            let stranger = CredentialVault(
                store: credentials,
                sealer: try #require(CredentialSealer(base64: Data(repeating: 9, count: 32).base64EncodedString()))
            )
            #expect(try await stranger.refresh() == 2)
            #expect(stranger.key(team: "research", provider: "openai") == nil)
            try await vault.delete(team: "research", provider: "openai")
            #expect(try await fresh.refresh() == 0)
            #expect(fresh.key(team: "research", provider: "openai") == nil)
            #expect(try await credentials.sealedCredentials().map(\.team) == ["ops"])
        }
    }

    static func rawData(_ store: any RequestLogStore) async throws -> [String] {
        if let sqlite = store as? SQLiteStore {
            return try await sqlite.rawRows("SELECT data FROM provider_credentials")
        }
        if let postgres = store as? PostgresStore {
            return try await postgres.rawRows("SELECT data FROM provider_credentials")
        }
        return []
    }
}
