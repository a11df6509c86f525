// SPDX-License-Identifier: Apache-2.0

import Foundation
import JWTKit
import Logging
import ServiceLifecycle
import SwitchyardCore
import SwitchyardProviders
import Synchronization

/// Accepts the JWTs of one OIDC issuer as bearer keys: the signature checked against the issuer's
/// key set (fetched, cached and refreshed), then `exp`, `nbf`, `iss` and `aud`; the team and role
/// come from configured claims.
///
/// The key set is held in memory, so a call costs no network round trip; a token signed with a key
/// the set does not have yet (the issuer rotated) fetches the set again: once per unknown key id in
/// 30 s, and at most one such fetch a second, so made-up key ids cannot flood the issuer.
final class OIDCAuthenticator: TokenAuthenticator, Sendable {
    let configuration: OIDCConfiguration
    let transport: HTTPTransport
    let logger: Logger
    /// Whether the gateway has a team of this name: a token may only name an existing team.
    let teamExists: @Sendable (String) -> Bool
    private let keys = Mutex<(collection: JWTKeyCollection, kids: Set<String>)?>(nil)
    private let refetches = Mutex<(last: ContinuousClock.Instant?, byKid: [String: ContinuousClock.Instant])>(
        (nil, [:])
    )
    /// Shortest time between two fetches caused by unknown key ids.
    static let minimumRefetch = Duration.seconds(1)
    /// Shortest time between two fetches caused by the same unknown key id.
    static let minimumRefetchPerKid = Duration.seconds(30)
    /// The issuer's authorization and token endpoints, once discovered.
    private let endpoints = Mutex<(authorize: String, token: String)?>(nil)
    /// Longest key set or discovery document read.
    static let maxDocumentBytes = 1 << 20

    init(
        configuration: OIDCConfiguration,
        transport: HTTPTransport,
        logger: Logger,
        teamExists: @escaping @Sendable (String) -> Bool
    ) {
        self.teamExists = teamExists
        self.configuration = configuration
        self.transport = transport
        self.logger = logger
    }

    /// Whether `token` has a JWT's shape: three base64url parts, the first a JSON object.
    static func looksLikeJWT(_ token: String) -> Bool {
        guard token.hasPrefix("eyJ"), token.utf8.count <= 16_384 else { return false }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3
            && parts.allSatisfy { part in
                part.utf8.allSatisfy { byte in
                    (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                        || byte == 0x2D || byte == 0x5F
                }
            }
    }

    func caller(forToken token: String) async throws(GatewayError) -> Caller? {
        try await self.caller(forToken: token, audience: self.configuration.audience, nonce: nil)
    }

    /// The caller of a token for `audience` (the console client's id, for an ID token), carrying
    /// `nonce` when one is given.
    func caller(forToken token: String, audience: String, nonce: String?) async throws(GatewayError) -> Caller? {
        guard Self.looksLikeJWT(token) else { return nil }
        let claims: OIDCClaims
        do {
            claims = try await self.verify(token)
        } catch {
            throw .unauthorized("Invalid token: \(Self.reason(error)).")
        }
        guard claims.issuer == self.configuration.issuer else {
            throw .unauthorized("Invalid token: it was issued by another issuer than this gateway accepts.")
        }
        guard claims.audience.contains(audience) else {
            throw .unauthorized("Invalid token: its audience does not include `\(audience)`.")
        }
        if let nonce {
            guard let carried = claims.strings["nonce"],
                Authenticator.constantTimeEquals(Array(carried.utf8), Array(nonce.utf8))
            else { throw .unauthorized("Invalid token: its `nonce` is not the one this sign-in sent.") }
        }
        for (claim, accepted) in self.configuration.requiredClaims.sorted(by: { $0.key < $1.key }) {
            guard let value = claims.strings[claim], accepted.contains(value) else {
                throw .unauthorized("Invalid token: its `\(claim)` claim is not one this gateway accepts.")
            }
        }
        var role = VirtualKey.Role.client
        if let value = claims.strings[self.configuration.roleClaim] {
            guard let parsed = VirtualKey.Role(rawValue: value) else {
                throw .unauthorized(
                    "Invalid token: its `\(self.configuration.roleClaim)` claim must be client, viewer or admin."
                )
            }
            role = parsed
        }
        let name = claims.strings[self.configuration.nameClaim].map { String($0.prefix(200)) } ?? "token"
        let team = claims.strings[self.configuration.teamClaim]
        if let team, !self.teamExists(team) {
            throw .unauthorized(
                "Invalid token: its `\(self.configuration.teamClaim)` claim names a team this gateway does not have."
            )
        }
        return Caller(keyName: "oidc:" + name, team: team, role: role)
    }

    /// Verifies with the cached key set; a key id the set lacks refetches it first (rate limited).
    private func verify(_ token: String) async throws -> OIDCClaims {
        let kid = Self.keyID(token)
        let current = self.keys.withLock { $0 }
        if current == nil || kid.map({ !current!.kids.contains($0) }) == true {
            try await self.refreshIfAllowed(kid: kid ?? "")
        }
        guard let keys = self.keys.withLock({ $0 }) else { throw OIDCError.noKeys }
        if let kid, !keys.kids.contains(kid) { throw OIDCError.unknownKey }
        return try await keys.collection.verify(token, as: OIDCClaims.self)
    }

    /// The `kid` of a token's header, if it names one.
    static func keyID(_ token: String) -> String? {
        guard let header = token.split(separator: ".").first else { return nil }
        var text = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        text += String(repeating: "=", count: (4 - text.count % 4) % 4)
        guard let data = Data(base64Encoded: text),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { return nil }
        return object["kid"] as? String
    }

    private func refreshIfAllowed(kid: String) async throws {
        let now = ContinuousClock.now
        let allowed = self.refetches.withLock { state in
            if let last = state.last, now - last < Self.minimumRefetch { return false }
            if let tried = state.byKid[kid], now - tried < Self.minimumRefetchPerKid { return false }
            if state.byKid.count >= 1_000 { state.byKid.removeAll() }
            state.last = now
            state.byKid[kid] = now
            return true
        }
        if allowed { try await self.refresh() }
    }

    /// Fetches the key set (discovering its URL first when not configured) and replaces the cached
    /// one; gives up after 15 s, however slowly the issuer answers.
    func refresh() async throws {
        try await Deadline.within(.seconds(15)) { try await self.fetchKeys() }
    }

    private func fetchKeys() async throws {
        var jwksURL = self.configuration.jwksURL
        if jwksURL == nil {
            var root = self.configuration.issuer
            while root.hasSuffix("/") { root.removeLast() }
            let discovery = try await self.get(root + "/.well-known/openid-configuration")
            let document = try JSONDecoder().decode(Discovery.self, from: Data(discovery))
            guard OIDCConfiguration.isAcceptable(document.jwks_uri) else { throw OIDCError.badDiscovery }
            jwksURL = document.jwks_uri
        }
        guard let jwksURL else { throw OIDCError.badDiscovery }
        let (json, kids) = try Self.pinnedAlgorithms(try await self.get(jwksURL))
        let collection = try await JWTKeyCollection().add(jwksJSON: json)
        self.keys.withLock { $0 = (collection, kids) }
    }

    private func get(_ url: String) async throws -> [UInt8] {
        var request = UpstreamHTTPRequest(url: url, headers: [("accept", "application/json")], body: [])
        request.method = "GET"
        let response = try await self.transport.send(
            request,
            streaming: false,
            context: UpstreamContext(requestID: "oidc-keys", firstTokenTimeout: .seconds(10)),
            parseError: { status, _, _ in ProviderError(kind: .rejected, message: "\(url) answered \(status)") }
        )
        guard case .complete(let buffer) = response, buffer.readableBytes <= Self.maxDocumentBytes else {
            throw OIDCError.badDocument
        }
        return Array(buffer.readableBytesView)
    }

    /// The key set with every key's algorithm stated, and the key ids in it.
    ///
    /// A key published without `alg` (Entra ID does that) would take its algorithm from the first
    /// token presented for it, before that token's signature is checked: one forged header could
    /// make the key refuse every real token until the next fetch. So the algorithm is fixed here from
    /// the key's type and curve, and keys of other types are left out.
    static func pinnedAlgorithms(_ document: [UInt8]) throws -> (json: String, kids: Set<String>) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(document))) as? [String: Any],
            let keys = object["keys"] as? [[String: Any]]
        else { throw OIDCError.badDocument }
        var pinned: [[String: Any]] = []
        for var key in keys.prefix(100) {
            if key["alg"] == nil {
                switch (key["kty"] as? String, key["crv"] as? String) {
                case ("RSA", _): key["alg"] = "RS256"
                case ("EC", "P-256"): key["alg"] = "ES256"
                case ("EC", "P-384"): key["alg"] = "ES384"
                case ("EC", "P-521"): key["alg"] = "ES512"
                case ("OKP", "Ed25519"): key["alg"] = "EdDSA"
                default: continue
                }
            }
            pinned.append(key)
        }
        let kids = Set(pinned.compactMap { $0["kid"] as? String })
        let data = try JSONSerialization.data(withJSONObject: ["keys": pinned])
        return (String(decoding: data, as: UTF8.self), kids)
    }

    /// What a client may learn about a token that failed.
    private static func reason(_ error: any Error) -> String {
        if case OIDCError.unknownKey = error { return "it was signed with a key the issuer does not publish" }
        guard let error = error as? JWTError else { return "it could not be checked" }
        switch error.errorType {
        case .claimVerificationFailure:
            if error.failedClaim is ExpirationClaim { return "it has expired" }
            if error.failedClaim is NotBeforeClaim { return "it is not valid yet" }
            return "a claim does not hold"
        case .signatureVerificationFailed: return "its signature does not verify"
        case .unknownKID: return "it was signed with a key the issuer does not publish"
        default: return "it is malformed"
        }
    }

    // swiftlint:disable:next identifier_name
    private struct Discovery: Decodable { var jwks_uri: String }

    // swiftlint:disable identifier_name
    private struct SignInDiscovery: Decodable {
        var authorization_endpoint: String
        var token_endpoint: String
    }

    private struct TokenAnswer: Decodable {
        var id_token: String?
        var access_token: String?
    }
    // swiftlint:enable identifier_name

    /// The issuer's authorization and token endpoints, from its discovery document (fetched once).
    func signInEndpoints() async throws -> (authorize: String, token: String) {
        if let known = self.endpoints.withLock({ $0 }) { return known }
        var root = self.configuration.issuer
        while root.hasSuffix("/") { root.removeLast() }
        let document = try JSONDecoder().decode(
            SignInDiscovery.self,
            from: Data(try await self.get(root + "/.well-known/openid-configuration"))
        )
        guard OIDCConfiguration.isAcceptable(document.authorization_endpoint),
            OIDCConfiguration.isAcceptable(document.token_endpoint)
        else { throw OIDCError.badDiscovery }
        let found = (document.authorization_endpoint, document.token_endpoint)
        self.endpoints.withLock { $0 = found }
        return found
    }

    /// Exchanges an authorization code for the signed-in caller: the access token when it is a
    /// token this gateway accepts, else the ID token (for the console's client, with the sign-in's nonce).
    func signIn(code: String, verifier: String, nonce: String, redirectURL: String) async throws -> Caller {
        guard let clientID = self.configuration.clientID else { throw OIDCError.badDiscovery }
        let (_, tokenEndpoint) = try await self.signInEndpoints()
        var form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURL),
            ("client_id", clientID), ("code_verifier", verifier),
        ]
        if let secret = self.configuration.clientSecret { form.append(("client_secret", secret)) }
        let body = form.map { "\($0)=\(Self.formEscape($1))" }.joined(separator: "&")
        let request = UpstreamHTTPRequest(
            url: tokenEndpoint,
            headers: [("content-type", "application/x-www-form-urlencoded"), ("accept", "application/json")],
            body: Array(body.utf8)
        )
        let response = try await Deadline.within(.seconds(15)) {
            try await self.transport.send(
                request,
                streaming: false,
                context: UpstreamContext(requestID: "oidc-sign-in", firstTokenTimeout: .seconds(10)),
                parseError: { status, _, _ in
                    ProviderError(kind: .rejected, message: "the issuer's token endpoint answered \(status)")
                }
            )
        }
        guard case .complete(let buffer) = response, buffer.readableBytes <= Self.maxDocumentBytes else {
            throw OIDCError.badDocument
        }
        let answer = try JSONDecoder().decode(TokenAnswer.self, from: Data(buffer.readableBytesView))
        if let access = answer.access_token,
            let caller = try? await self.caller(forToken: access, audience: self.configuration.audience, nonce: nil)
        {
            return caller
        }
        guard let idToken = answer.id_token,
            let caller = try await self.caller(forToken: idToken, audience: clientID, nonce: nonce)
        else { throw OIDCError.badDocument }
        return caller
    }

    /// `application/x-www-form-urlencoded` escaping of a value: every byte but the unreserved ones.
    static func formEscape(_ value: String) -> String { ConsolePages.queryEscape(value) }

}

/// The key set could not be had.
enum OIDCError: Error {
    /// No key set was fetched yet.
    case noKeys
    /// The token names a key id the issuer does not publish.
    case unknownKey
    /// The discovery document has no usable `jwks_uri`.
    case badDiscovery
    /// A document is missing or too large.
    case badDocument
}

/// The claims the gateway reads: the registered ones it checks, and every string claim for mapping.
struct OIDCClaims: JWTPayload {
    var expiration: ExpirationClaim
    var notBefore: NotBeforeClaim?
    var issuer: String
    var audience: [String]
    /// Top-level string claims, and the first string of list claims.
    var strings: [String: String]

    struct Name: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(expiration: Date, issuer: String, audience: [String], strings: [String: String]) {
        self.expiration = ExpirationClaim(value: expiration)
        self.issuer = issuer
        self.audience = audience
        self.strings = strings
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Name.self)
        // Tokens without an expiry are refused: a leaked one would work for ever.
        self.expiration = try c.decode(ExpirationClaim.self, forKey: Name(stringValue: "exp"))
        self.notBefore = try c.decodeIfPresent(NotBeforeClaim.self, forKey: Name(stringValue: "nbf"))
        self.issuer = try c.decodeIfPresent(String.self, forKey: Name(stringValue: "iss")) ?? ""
        let audience = Name(stringValue: "aud")
        self.audience =
            (try? c.decodeIfPresent([String].self, forKey: audience))
            ?? (try? c.decodeIfPresent(String.self, forKey: audience)).map { [$0] } ?? []
        var strings: [String: String] = [:]
        for key in c.allKeys.prefix(256) {
            if let value = try? c.decode(String.self, forKey: key) {
                strings[key.stringValue] = value
            } else if let list = try? c.decode([String].self, forKey: key), let first = list.first {
                strings[key.stringValue] = first
            }
        }
        self.strings = strings
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Name.self)
        for (name, value) in self.strings { try c.encode(value, forKey: Name(stringValue: name)) }
        try c.encode(self.expiration, forKey: Name(stringValue: "exp"))
        try c.encodeIfPresent(self.notBefore, forKey: Name(stringValue: "nbf"))
        try c.encode(self.issuer, forKey: Name(stringValue: "iss"))
        try c.encode(self.audience, forKey: Name(stringValue: "aud"))
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try self.expiration.verifyNotExpired()
        try self.notBefore?.verifyNotBefore()
    }
}

/// Fetches the issuer's key set again every `oidc.refresh`; a failed fetch keeps the set it had.
struct OIDCKeyService: Service {
    let authenticator: OIDCAuthenticator

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // The wait is long: shutting down must end it, not wait it out.
            let interval = self.authenticator.configuration.refresh
            guard (try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }) != nil else { return }
            do {
                try await self.authenticator.refresh()
            } catch {
                self.authenticator.logger.warning(
                    "OIDC key set fetch failed",
                    metadata: ["gw.error": "\(String(describing: error).prefix(300))"]
                )
            }
        }
    }
}
