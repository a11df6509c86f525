// SPDX-License-Identifier: Apache-2.0

import Crypto
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

    /// Authorization codes the issuer handed out, and who signs in next.
    let codes = Codes()

    /// The issuer's side of the console's sign-in: codes with what they were issued for.
    final class Codes: Sendable {
        struct Grant: Sendable {
            var nonce: String
            var challenge: String
            var redirect: String
            var role: String
        }

        private let state = Mutex<(grants: [String: Grant], role: String)>(([:], "admin"))
        func issue(_ grant: Grant) -> String {
            let code = "code-\(UInt64.random(in: 1 ... .max))"
            self.state.withLock { $0.grants[code] = grant }
            return code
        }
        /// Each code works once.
        func redeem(_ code: String) -> Grant? { self.state.withLock { $0.grants.removeValue(forKey: code) } }
        var role: String {
            get { self.state.withLock { $0.role } }
            set { self.state.withLock { $0.role = newValue } }
        }
    }

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
            return Self.json(
                #"{"issuer":"http://\#(authority)","jwks_uri":"http://\#(authority)/keys","#
                    + #""authorization_endpoint":"http://\#(authority)/authorize","#
                    + #""token_endpoint":"http://\#(authority)/token"}"#
            )
        }
        // The user signs in at once: back to the client with a code, as the query asked.
        router.get("/authorize") { request, _ -> Response in
            let query = request.uri.queryParameters
            guard query["client_id"] == "console", query["response_type"] == "code",
                query["code_challenge_method"] == "S256", let redirect = query["redirect_uri"].map(String.init),
                let state = query["state"], let nonce = query["nonce"], let challenge = query["code_challenge"]
            else { return Response(status: .badRequest) }
            let code = self.codes.issue(
                .init(nonce: String(nonce), challenge: String(challenge), redirect: redirect, role: self.codes.role)
            )
            return Response(status: .found, headers: [.location: "\(redirect)?code=\(code)&state=\(state)"])
        }
        router.post("/token") { request, _ -> Response in
            var body = request
            let text = String(buffer: try await body.collectBody(upTo: 1 << 16))
            var form: [String: String] = [:]
            for pair in text.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
                if parts.count == 2 { form[parts[0]] = parts[1] }
            }
            guard form["grant_type"] == "authorization_code", form["client_id"] == "console",
                form["client_secret"] == "s3cret", let code = form["code"], let grant = self.codes.redeem(code),
                form["redirect_uri"] == grant.redirect, let verifier = form["code_verifier"],
                ConsoleSessions.base64URL(Data(SHA256.hash(data: Array(verifier.utf8)))) == grant.challenge
            else { return Response(status: .badRequest, headers: [.contentType: "application/json"]) }
            let authority = request.head.authority ?? ""
            let idToken = try await self.token(
                ["sub": "alice", "role": grant.role, "nonce": grant.nonce],
                issuer: "http://\(authority)",
                audience: ["console"]
            )
            return Self.json(#"{"id_token":"\#(idToken)","access_token":"opaque","token_type":"Bearer"}"#)
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

    @Test("The console signs in through the issuer: code flow with PKCE, state and nonce; admins and viewers only")
    func consoleSignIn() async throws {
        try await self.issuer().test(.live) { issuerClient in
            let issuerPort = try #require(issuerClient.port)
            let issuerURL = "http://127.0.0.1:\(issuerPort)"
            try await TestGateway.run(configure: { upstreamPort in
                var configuration = TestGateway.configuration(upstreamPort: upstreamPort, models: [:])
                configuration.masterKey = Self.master
                configuration.oidc = OIDCConfiguration(issuer: issuerURL, audience: "switchyard")
                configuration.oidc?.clientID = "console"
                configuration.oidc?.clientSecret = "s3cret"
                return configuration
            }) { _, port in
                let login = try await TestGateway.send(port: port, path: "/login", method: .GET)
                #expect(login.body.contains("Sign in with 127.0.0.1"))

                /// Goes to the issuer and back; the gateway's answer to the callback.
                func signIn(
                    state override: String? = nil
                ) async throws -> (status: Int, headers: [String: String], body: String) {
                    let start = try await TestGateway.send(port: port, path: "/login/oidc?next=/logs", method: .GET)
                    #expect(start.status == 303)
                    let authorize = try #require(start.headers["location"])
                    #expect(
                        authorize.hasPrefix(issuerURL + "/authorize?")
                            && authorize.contains("code_challenge_method=S256")
                    )
                    let cookie = String(try #require(start.headers["set-cookie"]).prefix { $0 != ";" })
                    let atIssuer = try await TestGateway.send(
                        port: issuerPort,
                        path: String(authorize.dropFirst(issuerURL.count)),
                        method: .GET
                    )
                    var callback = try #require(atIssuer.headers["location"])
                    #expect(callback.hasPrefix("http://127.0.0.1:\(port)/login/oidc/callback?code="))
                    if let override {
                        callback = callback.replacingOccurrences(of: "&state=", with: "&state=\(override)")
                    }
                    return try await TestGateway.send(
                        port: port,
                        path: String(callback.dropFirst("http://127.0.0.1:\(port)".count)),
                        method: .GET,
                        headers: [("cookie", cookie)]
                    )
                }

                let done = try await signIn()
                #expect(done.status == 303 && done.headers["location"] == "/logs")
                let session = try #require(done.headers["set-cookie"])
                #expect(session.hasPrefix("switchyard_session=") && session.contains("HttpOnly"))
                let logs = try await TestGateway.send(
                    port: port,
                    path: "/logs",
                    method: .GET,
                    headers: [("cookie", String(session.prefix { $0 != ";" }))]
                )
                #expect(logs.status == 200 && logs.body.contains("oidc:alice · admin"))

                // A state that is not the one sent, and a user whose role is client, are refused.
                #expect(try await signIn(state: "forged").status == 403)
                self.codes.role = "client"
                let client = try await signIn()
                #expect(client.status == 403 && client.body.contains("its role must be admin or viewer"))
            }
        }
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
