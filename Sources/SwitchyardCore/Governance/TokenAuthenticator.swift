// SPDX-License-Identifier: Apache-2.0

/// Accepts signed bearer tokens (OIDC JWTs) as keys, so workloads need no long-lived secret.
public protocol TokenAuthenticator: Sendable {
    /// The caller for `token`; `nil` when it is not a token this authenticator reads (a gateway key),
    /// a 401 when it is one that does not verify (bad signature, expired, another issuer or audience).
    func caller(forToken token: String) async throws(GatewayError) -> Caller?
}
