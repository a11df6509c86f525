// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SwitchyardCore

/// Who is signed in to the web console, carried in a signed cookie (no server-side state, so any
/// instance sharing the master key accepts it).
///
/// The cookie holds who and what role, never a key; it is `HttpOnly`, `SameSite=Strict`, and
/// `Secure` when the request came over TLS (a proxy's `X-Forwarded-Proto: https`). Forms carry a
/// CSRF token derived from the cookie's signature.
struct ConsoleSession: Codable, Equatable {
    /// `master`, `key:ID` (a virtual key), `token:NAME` (an OIDC token), or `local` (no keys configured).
    var subject: String
    /// What the page shows as the signed-in user.
    var name: String
    /// `admin` or `viewer`.
    var role: VirtualKey.Role
    /// The team, for sessions signed in with a token.
    var team: String?
    /// When the session ends, seconds since 1970.
    var expires: Int

    /// Whether the session may change things (keys) and call models (playground).
    var isAdmin: Bool { self.role == .admin }
}

extension ConsoleSession {
    /// A session for the caller of an OIDC token, pasted or from the issuer's sign-in. It lasts an
    /// hour, so a user the issuer no longer vouches for is out soon.
    init(token caller: Caller) {
        self.init(
            subject: "token:\(caller.keyName)",
            name: caller.keyName,
            role: caller.role,
            team: caller.team,
            expires: Int(Date().timeIntervalSince1970 + 3600)
        )
    }
}

/// Signs and checks session cookies and CSRF tokens.
struct ConsoleSessions: Sendable {
    /// The cookie's name.
    static let cookieName = "switchyard_session"
    /// How long a sign-in lasts.
    static let lifetime: TimeInterval = 8 * 3600
    /// Longest cookie accepted, so a client cannot make the server hash megabytes.
    static let longestCookie = 2048

    private let key: SymmetricKey

    /// Sessions signed with a key derived from the master key (the same on every instance), or
    /// with a random one when there is none (sessions then end with the process).
    init(masterKey: String?) {
        if let masterKey {
            self.key = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: SymmetricKey(data: Array(masterKey.utf8)),
                info: Array("switchyard console session v1".utf8),
                outputByteCount: 32
            )
        } else {
            self.key = SymmetricKey(size: .bits256)
        }
    }

    /// The cookie value for `session`: base64url(JSON) `.` base64url(HMAC).
    func seal(_ session: ConsoleSession) -> String { self.sign(session) }

    /// The session in `cookie`, when its signature holds and it has not expired.
    func open(_ cookie: String?, now: Date = Date()) -> ConsoleSession? {
        guard let session = self.verify(cookie, as: ConsoleSession.self),
            Double(session.expires) > now.timeIntervalSince1970
        else { return nil }
        return session
    }

    /// `value` as JSON with its signature: base64url(JSON) `.` base64url(HMAC).
    func sign(_ value: some Encodable) -> String {
        let payload = (try? JSONEncoder().encode(value)) ?? Data()
        let signature = HMAC<SHA256>.authenticationCode(for: payload, using: self.key)
        return Self.base64URL(payload) + "." + Self.base64URL(Data(signature))
    }

    /// The value signed in `text`, when the signature holds.
    func verify<Value: Decodable>(_ text: String?, as type: Value.Type) -> Value? {
        guard let text, text.utf8.count <= Self.longestCookie else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Self.data(base64URL: parts[0]),
            let signature = Self.data(base64URL: parts[1]),
            HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: payload, using: self.key)
        else { return nil }
        return try? JSONDecoder().decode(Value.self, from: payload)
    }

    /// The CSRF token of the session whose cookie is `cookie`.
    func csrfToken(forCookie cookie: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array("csrf:\(cookie)".utf8), using: self.key)
        return Self.base64URL(Data(code))
    }

    /// Whether `token` is the CSRF token of `cookie` (compared in constant time).
    func checks(csrf token: String?, cookie: String) -> Bool {
        guard let token, token.utf8.count <= 128 else { return false }
        return Authenticator.constantTimeEquals(Array(token.utf8), Array(self.csrfToken(forCookie: cookie).utf8))
    }

    /// The `Set-Cookie` for `value`; an empty value with max-age 0 signs out.
    static func cookie(_ value: String, secure: Bool, maxAge: Int = Int(lifetime)) -> Cookie {
        Cookie(
            name: Self.cookieName,
            value: value,
            maxAge: maxAge,
            path: "/",
            secure: secure,
            httpOnly: true,
            sameSite: .strict
        )
    }

    /// Whether the request reached the gateway over TLS, as the proxy in front of it says.
    static func isSecure(_ request: Request) -> Bool {
        request.headers[HTTPField.Name("x-forwarded-proto")!]?.lowercased() == "https"
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func data(base64URL text: Substring) -> Data? {
        guard text.utf8.count <= Self.longestCookie else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
