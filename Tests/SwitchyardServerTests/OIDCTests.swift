// SPDX-License-Identifier: Apache-2.0

import Foundation
import Hummingbird
import HummingbirdTesting
import JWTKit
import Logging
import SwitchyardCore
import SwitchyardTesting
import Synchronization
import Testing

@testable import SwitchyardServer

/// OIDC tokens as keys: a fake issuer on loopback publishes its discovery document and key set; the
/// gateway accepts its signed tokens, maps their claims to team and role, and refuses the rest with 401.
@Suite(.timeLimit(.minutes(1)))
struct OIDCTests {
    static let master = "sk-master-0123456789"
    let signingKey = ES256PrivateKey()
    let strangerKey = ES256PrivateKey()
    let rotatedKey = ES256PrivateKey()
    /// Whether the issuer publishes ``rotatedKey`` (as `k2`) yet.
    let rotated = Flag()

    /// A switch the issuer and the test share.
    final class Flag: Sendable {
        private let value = Mutex(false)
        func set() { self.value.withLock { $0 = true } }
        var isSet: Bool { self.value.withLock { $0 } }
    }

    /// The issuer: discovery at `/.well-known/openid-configuration`, the key set at `/keys`.
    func issuer() -> some ApplicationProtocol {
        let router = Router()
        let parameters = self.signingKey.publicKey.parameters!
        let next = self.rotatedKey.publicKey.parameters!
        router.get("/.well-known/openid-configuration") { request, _ -> Response in
            let authority = request.head.authority ?? ""
            return Self.json(#"{"issuer":"http://\#(authority)","jwks_uri":"http://\#(authority)/keys"}"#)
        }
        router.get("/keys") { _, _ -> Response in
            var keys = [
                #"{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"k1","x":"\#(parameters.x)","y":"\#(parameters.y)"}"#
            ]
            if self.rotated.isSet {
                keys.append(
                    #"{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"k2","x":"\#(next.x)","y":"\#(next.y)"}"#
                )
            }
            return Self.json(#"{"keys":[\#(keys.joined(separator: ","))]}"#)
        }
        var logger = Logger(label: "fake-issuer")
        logger.logLevel = .warning
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: logger
        )
    }

    static func json(_ text: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    func token(
        _ claims: [String: String],
        issuer: String,
        audience: [String] = ["switchyard"],
        expires: Date = Date().addingTimeInterval(300),
        key: ES256PrivateKey? = nil,
        kid: String = "k1"
    ) async throws -> String {
        let keys = await JWTKeyCollection().add(ecdsa: key ?? self.signingKey, kid: JWKIdentifier(string: kid))
        let claims = ["org": "acme"].merging(claims) { $1 }
        return try await keys.sign(
            OIDCClaims(expiration: expires, issuer: issuer, audience: audience, strings: claims),
            kid: JWKIdentifier(string: kid)
        )
    }

    @Test("A key set's keys without `alg` get theirs from type and curve; unknown types are left out")
    func pinnedAlgorithms() throws {
        let document = #"""
            {"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"},{"kty":"EC","crv":"P-384","kid":"e","x":"a","y":"b"},
              {"kty":"EC","crv":"P-256","kid":"f","alg":"ES256","x":"a","y":"b"},{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}
            """#
        let (json, kids) = try OIDCAuthenticator.pinnedAlgorithms(Array(document.utf8))
        #expect(kids == ["r", "e", "f"])
        let keys = try #require(
            (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["keys"] as? [[String: Any]]
        )
        #expect(keys.map { $0["alg"] as? String } == ["RS256", "ES384", "ES256"])
        #expect(OIDCAuthenticator.keyID("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.e30.c2ln") == "k1")
        #expect(OIDCAuthenticator.keyID("eyJhbGciOiJFUzI1NiJ9.e30.c2ln") == nil)
    }

    @Test("Issued tokens are keys: team and role from claims; expired, foreign, misaddressed or forged ones are 401")
    func tokens() async throws {
        try await self.issuer().test(.live) { issuerClient in
            let issuerURL = "http://127.0.0.1:\(issuerClient.port!)"
            try await TestGateway.run(configure: { upstreamPort in
                var configuration = TestGateway.configuration(
                    upstreamPort: upstreamPort,
                    models: ["m": ModelConfiguration(routes: [.init(provider: "up", model: "ok")])]
                )
                configuration.masterKey = Self.master
                configuration.oidc = OIDCConfiguration(issuer: issuerURL, audience: "switchyard")
                configuration.oidc?.requiredClaims = ["org": ["acme"]]
                return configuration
            }) { _, port in
                func call(
                    _ token: String,
                    path: String = "/v1/chat/completions",
                    body: String? = TestGateway.chatBody(model: "m")
                )
                    async throws -> (status: Int, headers: [String: String], body: String)
                {
                    try await TestGateway.send(
                        port: port,
                        path: path,
                        method: body == nil ? .GET : .POST,
                        body: body,
                        headers: [("authorization", "Bearer \(token)")]
                    )
                }
                // A team with one request a minute: the token's team claim decides whose limit applies.
                let team = try await TestGateway.send(
                    port: port,
                    path: "/admin/teams",
                    body: #"{"name":"research","limits":{"rpm":1}}"#,
                    headers: [("authorization", "Bearer \(Self.master)")]
                )
                #expect(team.status == 201)

                let member = try await self.token(["sub": "svc-batch", "team": "research"], issuer: issuerURL)
                #expect(try await call(member).status == 200)
                let second = try await call(member)
                #expect(second.status == 429)
                #expect(second.body.contains("team `research`"))
                let loner = try await self.token(["sub": "svc-other"], issuer: issuerURL)
                #expect(try await call(loner).status == 200)
                // A client token may not use the admin API; a viewer may read, an admin may write.
                #expect(try await call(loner, path: "/admin/logs", body: nil).status == 403)
                let viewer = try await self.token(["sub": "ana", "role": "viewer"], issuer: issuerURL)
                #expect(try await call(viewer, path: "/admin/logs", body: nil).status == 200)
                #expect(try await call(viewer, path: "/admin/teams", body: #"{"name":"ops"}"#).status == 403)
                let admin = try await self.token(["sub": "root", "role": "admin"], issuer: issuerURL)
                #expect(try await call(admin, path: "/admin/teams", body: #"{"name":"ops"}"#).status == 201)

                let refusals: [(String, String)] = [
                    (
                        try await self.token(["sub": "x"], issuer: issuerURL, expires: Date().addingTimeInterval(-60)),
                        "expired"
                    ),
                    (try await self.token(["sub": "x"], issuer: "https://elsewhere.example.com"), "another issuer"),
                    (try await self.token(["sub": "x"], issuer: issuerURL, audience: ["other-app"]), "audience"),
                    (try await self.token(["sub": "x"], issuer: issuerURL, key: self.strangerKey), "signature"),
                    (
                        try await self.token(["sub": "x"], issuer: issuerURL, key: self.strangerKey, kid: "k9"),
                        "key the issuer"
                    ),
                    (try await self.token(["sub": "x", "role": "root"], issuer: issuerURL), "client, viewer or admin"),
                    (try await self.token(["sub": "x", "org": "evil-corp"], issuer: issuerURL), "`org` claim"),
                    (try await self.token(["sub": "x", "team": "nobody"], issuer: issuerURL), "team this gateway"),
                    ("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "Invalid token"),
                ]
                for (token, reason) in refusals {
                    let answer = try await call(token)
                    #expect(answer.status == 401, "\(reason)")
                    #expect(answer.body.contains(reason), "\(answer.body)")
                }
                // Gateway keys keep working beside tokens.
                #expect(try await call(Self.master).status == 200)

                // The issuer rotates to a new key: the first token signed with it fetches the key set again.
                self.rotated.set()
                try await Task.sleep(for: .seconds(1.1))
                let fresh = try await self.token(["sub": "svc-new"], issuer: issuerURL, key: self.rotatedKey, kid: "k2")
                #expect(try await call(fresh).status == 200)
            }
        }
    }
}
