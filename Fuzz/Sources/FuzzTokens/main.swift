// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore

@testable import SwitchyardServer

/// Feeds arbitrary bearer values to what reads them before any check: the JWT shape test and header
/// reader of OIDC tokens, the key id inside a virtual key's secret, hex salts and hashes, the
/// credential key, and the claims decoder; and the console's session cookie reader, CSRF check,
/// sign-in target and CSV field.
///
/// Checked: no trap; a value called a JWT has three parts and starts with `eyJ`; a key id found in a
/// secret is `key_` and 16 hex digits, taken from that secret; hex that decodes encodes back to itself;
/// no cookie but a signed one opens a session; a sign-in target is a local path.
/// Sessions under a fixed key: the fuzzer cannot sign a cookie with it.
private let sessions = ConsoleSessions(masterKey: "fuzz-master-key-0123456789")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let text = String(decoding: bytes, as: UTF8.self)

    if OIDCAuthenticator.looksLikeJWT(text) {
        precondition(text.hasPrefix("eyJ"), "a JWT without a JSON header")
        precondition(
            text.split(separator: ".", omittingEmptySubsequences: false).count == 3,
            "a JWT of other than 3 parts"
        )
    }
    _ = OIDCAuthenticator.keyID(text)

    if let id = VirtualKey.id(inSecret: text) {
        precondition(id.count == 20 && id.hasPrefix("key_") && text.contains(id), "a key id not from the secret")
    }
    if let decoded = Hex.bytes(text) {
        precondition(Hex.lowercase(decoded) == text.lowercased(), "hex that does not encode back")
    }
    _ = CredentialSealer(base64: text)
    _ = try? JSONDecoder().decode(OIDCClaims.self, from: Data(bytes))

    precondition(sessions.open(text) == nil, "an unsigned cookie opened a session")
    precondition(!sessions.checks(csrf: text, cookie: "cookie"), "an arbitrary CSRF token passed")
    let target = ConsoleRoutes.localPath(text)
    precondition(target == "/" || (target.hasPrefix("/") && !target.hasPrefix("//")), "a sign-in target off the site")
    let field = ConsoleRoutes.csvField(text)
    precondition(!field.hasPrefix("="), "a CSV field a spreadsheet would run")
    return 0
}
