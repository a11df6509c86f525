// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore

/// The web console (SPEC §2): `/` (catalog), `/models/{id}`, `/playground`, `/logs`, `/spend`,
/// `/keys`, with `/login` and `/logout`, and its stylesheet and script under `/console/`.
///
/// Once the gateway has any key (a master key, configured keys, an OIDC issuer), every page needs
/// a sign-in with the master key, an admin or viewer key, or an OIDC token; viewers read, admins
/// also manage keys and use the playground. Without keys (loopback only) the local user is admin.
/// Every POST carries a CSRF token; every page a strict Content-Security-Policy.
struct ConsoleRoutes {
    typealias Context = GatewayRequestContext

    let pages: ConsolePages
    let sessions: ConsoleSessions
    let authenticator: Authenticator
    let administration: KeyAdministration?
    let completions: CompletionRoutes
    let hasMasterKey: Bool
    /// The OIDC issuer, when one is configured: with a client id, the sign-in page offers it.
    let oidc: OIDCAuthenticator?

    /// No inline script or style, nothing from elsewhere, no framing.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    /// Largest form body read.
    static let formLimit = 64 << 10
    /// Most rows an export holds.
    static let exportLimit = 10_000
    /// A search reads at most this many of the newest requests (before `Older`'s time, when paging).
    static let searchWindow = 20_000
    private static let loginCookie = "switchyard_login"
    private static let oidcCookie = "switchyard_oidc"

    /// What a sign-in through the OIDC issuer must find when it comes back: kept in a signed cookie.
    struct OIDCSignIn: Codable {
        var state: String
        var verifier: String
        var nonce: String
        var next: String
        var redirect: String
        var expires: Int
    }

    /// A request's signed-in session, and the cookie to set when the session was made just now.
    struct Visit {
        var session: ConsoleSession
        var cookie: String
        var newCookie: Cookie?
    }

    func register(on router: Router<Context>) {
        router.get("/console/app.css") { _, _ in Self.asset(ConsoleAssets.stylesheet, type: "text/css; charset=utf-8") }
        router.get("/console/app.js") { _, _ in
            Self.asset(ConsoleAssets.script, type: "text/javascript; charset=utf-8")
        }
        router.get("/login") { request, _ in try self.loginPage(request) }
        router.post("/login") { request, _ in try await self.login(request) }
        router.post("/logout") { request, _ in try await self.logout(request) }
        router.get("/login/oidc") { request, _ in try await self.startOIDC(request) }
        router.get("/login/oidc/callback") { request, _ in try await self.finishOIDC(request) }

        router.get("/") { request, _ in
            try await self.serve(request, path: "/") { _, chrome in
                let query = request.uri.queryParameters
                return (
                    "catalog",
                    self.pages.catalog(
                        chrome: chrome,
                        query: Self.text(query["q"], limit: 200),
                        capability: Self.text(query["capability"], limit: 40),
                        sort: Self.text(query["sort"], limit: 40)
                    ), .ok
                )
            }
        }
        router.get("/models/**") { request, context in
            let id = context.parameters.getCatchAll().joined(separator: "/")
            return try await self.serve(request, path: "/models/") { _, chrome in
                guard let page = self.pages.model(id, chrome: chrome, baseURL: Self.baseURL(request)) else {
                    return self.notFound(chrome, "There is no model `\(id.prefix(200))` on this gateway.")
                }
                return ("model", page, .ok)
            }
        }
        router.get("/playground") { request, _ in
            try await self.serve(request, path: "/playground", admin: true) { _, chrome in
                let names = self.pages.models.publicNames.filter { self.pages.models.resolve($0)?.kind != .embedding }
                return ("playground", PlaygroundPage(chrome: chrome, models: names), .ok)
            }
        }
        router.post("/playground/chat") { request, context in
            guard let visit = self.visit(request), visit.session.isAdmin else {
                throw GatewayError.forbidden(
                    "The playground needs a console sign-in with the master key or an admin key."
                )
            }
            guard self.sessions.checks(csrf: request.headers[HTTPField.Name("x-csrf-token")!], cookie: visit.cookie)
            else { throw GatewayError.forbidden("The playground request lacks this session's CSRF token.") }
            guard let caller = self.caller(for: visit.session) else {
                throw GatewayError.unauthorized("The session's key is no longer valid: sign in again.")
            }
            return try await self.completions.handle(
                request,
                context: context,
                endpoint: .chatCompletions,
                caller: caller
            )
        }
        router.get("/logs") { request, _ in
            try await self.serve(request, path: "/logs") { _, chrome in
                let (query, form) = try Self.logQuery(request.uri.queryParameters, limit: 100)
                return ("logs", try await self.pages.logs(chrome: chrome, query: query, form: form), .ok)
            }
        }
        router.get("/logs/export") { request, _ in
            guard self.visit(request) != nil else { return Self.redirect(to: "/login?next=/logs") }
            let parameters = request.uri.queryParameters
            let (query, _) = try Self.logQuery(parameters, limit: Self.exportLimit)
            let records = try await self.pages.store.records(matching: query)
            return parameters["format"] == "jsonl" ? Self.jsonLines(records) : Self.csv(records)
        }
        router.get("/logs/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await self.serve(request, path: "/logs") { _, chrome in
                guard let page = try await self.pages.log(id, chrome: chrome) else {
                    return self.notFound(chrome, "There is no request `\(id.prefix(100))` in the log.")
                }
                return ("log", page, .ok)
            }
        }
        router.get("/spend") { request, _ in
            try await self.serve(request, path: "/spend") { _, chrome in
                let query = request.uri.queryParameters
                let dimension =
                    query["by"].flatMap { SpendDimension(rawValue: String($0)) }.flatMap {
                        $0 == .day ? nil : $0
                    } ?? .model
                let days =
                    query["days"].flatMap { Int(String($0)) }.flatMap { [7, 14, 30, 90].contains($0) ? $0 : nil } ?? 14
                return ("spend", try await self.pages.spend(chrome: chrome, by: dimension, days: days), .ok)
            }
        }
        router.get("/keys") { request, _ in
            try await self.serve(request, path: "/keys", admin: true) { visit, chrome in
                ("keys", self.keysPage(chrome, visit.session, secret: nil, error: self.keysUnavailable), .ok)
            }
        }
        router.post("/keys") { request, _ in
            try await self.change(request, path: "/keys") { visit, chrome, body in
                let form = try URLEncodedFormDecoder().decode(CreateKeyForm.self, from: body)
                guard let administration = self.administration, self.hasMasterKey else {
                    return ("keys", self.keysPage(chrome, visit.session, secret: nil, error: self.keysUnavailable), .ok)
                }
                do {
                    let input = try CreateKey(json: form.json())
                    let admin = self.caller(for: visit.session) ?? Caller(keyName: visit.session.name, role: .admin)
                    let (key, secret) = try await administration.create(input, by: admin)
                    let shown = KeysPage.Secret(name: key.name, value: secret)
                    return ("keys", self.keysPage(chrome, visit.session, secret: shown, error: nil), .created)
                } catch let error as GatewayError {
                    return (
                        "keys", self.keysPage(chrome, visit.session, secret: nil, error: error.message), error.status
                    )
                }
            }
        }
        router.post("/keys/:id/revoke") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await self.change(request, path: "/keys") { visit, chrome, _ in
                guard let administration = self.administration else { return self.notFound(chrome, "No keys here.") }
                let admin = self.caller(for: visit.session) ?? Caller(keyName: visit.session.name, role: .admin)
                _ = try await administration.revoke(id, by: admin)
                return ("redirect", "/keys", .seeOther)
            }
        }
        // The address a key form posted to, loaded again: back to the list.
        router.get("/keys/:id/:action") { _, _ in Self.redirect(to: "/keys") }
        router.post("/keys/:id/rotate") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await self.change(request, path: "/keys") { visit, chrome, _ in
                guard let administration = self.administration else { return self.notFound(chrome, "No keys here.") }
                let admin = self.caller(for: visit.session) ?? Caller(keyName: visit.session.name, role: .admin)
                let (key, secret) = try await administration.rotate(id, grace: .seconds(3600), by: admin)
                let shown = KeysPage.Secret(name: key.name, value: secret)
                return ("keys", self.keysPage(chrome, visit.session, secret: shown, error: nil), .ok)
            }
        }
    }

    // MARK: Sessions

    /// The request's valid session; without keys configured, a local admin session made now.
    func visit(_ request: Request) -> Visit? {
        if let cookie = request.cookies[ConsoleSessions.cookieName]?.value, let session = self.sessions.open(cookie),
            self.isValid(session)
        {
            return Visit(session: session, cookie: cookie, newCookie: nil)
        }
        guard !self.authenticator.isEnabled else { return nil }
        let session = ConsoleSession(
            subject: "local",
            name: "local",
            role: .admin,
            expires: Int(Date().timeIntervalSince1970 + ConsoleSessions.lifetime)
        )
        let value = self.sessions.seal(session)
        return Visit(
            session: session,
            cookie: value,
            newCookie: ConsoleSessions.cookie(value, secure: ConsoleSessions.isSecure(request))
        )
    }

    /// Whether what the session stands for still holds: its key not revoked or expired.
    private func isValid(_ session: ConsoleSession) -> Bool {
        switch session.subject {
        case "local": return !self.authenticator.isEnabled
        case "master": return self.hasMasterKey
        default:
            if session.subject.hasPrefix("token:") { return self.authenticator.tokens != nil }
            guard session.subject.hasPrefix("key:"),
                let key = self.authenticator.registry?.key(String(session.subject.dropFirst(4)))
            else { return false }
            return key.revokedAt == nil && (key.expiresAt.map { $0 > Date() } ?? true) && key.role == session.role
        }
    }

    /// The caller the session acts as in the playground.
    private func caller(for session: ConsoleSession) -> Caller? {
        switch session.subject {
        case "local": return .anonymous
        case "master": return Caller(keyName: "master", role: .admin)
        default:
            if session.subject.hasPrefix("token:") {
                return Caller(keyName: session.name, team: session.team, role: session.role)
            }
            return self.authenticator.registry?.key(String(session.subject.dropFirst(4))).map(KeyRegistry.caller(of:))
        }
    }

    private func loginPage(
        _ request: Request,
        error: String? = nil,
        status: HTTPResponse.Status = .ok
    ) throws
        -> Response
    {
        guard self.authenticator.isEnabled else { return Self.redirect(to: "/") }
        let nonce = Self.randomToken()
        let next = Self.localPath(request.uri.queryParameters["next"].map(String.init))
        let page = LoginPage(
            chrome: nil,
            csrf: self.sessions.csrfToken(forCookie: nonce),
            next: next,
            error: error,
            sso: self.oidc?.configuration.clientID == nil
                ? nil : URL(string: self.oidc?.configuration.issuer ?? "")?.host ?? "the identity provider",
            ssoLink: "/login/oidc?next=" + ConsolePages.queryEscape(next)
        )
        var response = Self.html(ConsoleTemplates.library.render(page, withTemplate: "login") ?? "", status: status)
        response.setCookie(
            Cookie(
                name: Self.loginCookie,
                value: nonce,
                maxAge: 600,
                path: "/login",
                secure: ConsoleSessions.isSecure(request),
                httpOnly: true,
                sameSite: .strict
            )
        )
        return response
    }

    private func login(_ request: Request) async throws -> Response {
        guard self.authenticator.isEnabled else { return Self.redirect(to: "/") }
        var body = request
        let bytes = try await body.collectBody(upTo: Self.formLimit)
        let form = try URLEncodedFormDecoder().decode(LoginForm.self, from: String(buffer: bytes))
        guard let nonce = request.cookies[Self.loginCookie]?.value, self.sessions.checks(csrf: form.csrf, cookie: nonce)
        else {
            return try self.loginPage(request, error: "The sign-in form expired: try again.", status: .forbidden)
        }
        let caller: Caller
        do {
            caller = try await self.authenticator.authenticateAdmin(form.key, writes: false)
        } catch {
            return try self.loginPage(request, error: error.message, status: .unauthorized)
        }
        let now = Date().timeIntervalSince1970
        let session: ConsoleSession
        if self.authenticator.isMaster(form.key) {
            session = ConsoleSession(
                subject: "master",
                name: "master",
                role: .admin,
                expires: Int(now + ConsoleSessions.lifetime)
            )
        } else if let id = caller.keyID {
            session = ConsoleSession(
                subject: "key:\(id)",
                name: caller.keyName,
                role: caller.role,
                team: caller.team,
                expires: Int(now + ConsoleSessions.lifetime)
            )
        } else {
            session = ConsoleSession(token: caller)
        }
        var response = Self.redirect(to: Self.localPath(form.next))
        response.setCookie(
            ConsoleSessions.cookie(self.sessions.seal(session), secure: ConsoleSessions.isSecure(request))
        )
        return response
    }

    /// Sends the browser to the issuer's authorization endpoint (code flow with PKCE, state and nonce).
    private func startOIDC(_ request: Request) async throws -> Response {
        guard let oidc = self.oidc, let clientID = oidc.configuration.clientID else {
            return try self.loginPage(
                request,
                error: "No identity provider is set up for the console.",
                status: .notFound
            )
        }
        let authorize: String
        do {
            authorize = try await oidc.signInEndpoints().authorize
        } catch {
            return try self.loginPage(request, error: "The identity provider cannot be reached.", status: .badGateway)
        }
        let signIn = OIDCSignIn(
            state: Self.randomToken(),
            verifier: Self.randomToken() + Self.randomToken(),
            nonce: Self.randomToken(),
            next: Self.localPath(request.uri.queryParameters["next"].map(String.init)),
            redirect: oidc.configuration.redirectURL ?? Self.baseURL(request) + "/login/oidc/callback",
            expires: Int(Date().timeIntervalSince1970) + 600
        )
        let challenge = ConsoleSessions.base64URL(Data(SHA256.hash(data: Array(signIn.verifier.utf8))))
        let query = [
            ("response_type", "code"), ("client_id", clientID), ("redirect_uri", signIn.redirect),
            ("scope", "openid"), ("state", signIn.state), ("nonce", signIn.nonce),
            ("code_challenge", challenge), ("code_challenge_method", "S256"),
        ]
        .map { "\($0)=\(OIDCAuthenticator.formEscape($1))" }.joined(separator: "&")
        var response = Self.redirect(to: authorize + (authorize.contains("?") ? "&" : "?") + query)
        response.setCookie(
            Cookie(
                name: Self.oidcCookie,
                value: self.sessions.sign(signIn),
                maxAge: 600,
                path: "/login/oidc",
                secure: ConsoleSessions.isSecure(request),
                httpOnly: true,
                // The issuer sends the browser back from its own site: a strict cookie would stay behind.
                sameSite: .lax
            )
        )
        return response
    }

    /// The issuer's answer: checks the state, exchanges the code, and signs the user in.
    private func finishOIDC(_ request: Request) async throws -> Response {
        let parameters = request.uri.queryParameters
        guard let oidc = self.oidc,
            let signIn = self.sessions.verify(request.cookies[Self.oidcCookie]?.value, as: OIDCSignIn.self),
            Double(signIn.expires) > Date().timeIntervalSince1970,
            let state = parameters["state"].map(String.init),
            Authenticator.constantTimeEquals(Array(state.utf8), Array(signIn.state.utf8))
        else {
            return try self.loginPage(
                request,
                error: "The sign-in expired or did not start here: try again.",
                status: .forbidden
            )
        }
        if let refusal = parameters["error"] {
            return try self.loginPage(
                request,
                error: "The identity provider refused the sign-in: \(refusal.prefix(100)).",
                status: .unauthorized
            )
        }
        guard let code = parameters["code"].map(String.init), !code.isEmpty, code.utf8.count <= 4096 else {
            return try self.loginPage(request, error: "The identity provider sent no code.", status: .badRequest)
        }
        let caller: Caller
        do {
            caller = try await oidc.signIn(
                code: code,
                verifier: signIn.verifier,
                nonce: signIn.nonce,
                redirectURL: signIn.redirect
            )
        } catch let error as GatewayError {
            return try self.loginPage(request, error: error.message, status: .unauthorized)
        } catch {
            return try self.loginPage(
                request,
                error: "The identity provider's answer could not be used.",
                status: .badGateway
            )
        }
        guard caller.role == .admin || caller.role == .viewer else {
            return try self.loginPage(
                request,
                error: "`\(caller.keyName)` may call models, not use the console: its role must be admin or viewer.",
                status: .forbidden
            )
        }
        let session = ConsoleSession(token: caller)
        var response = Self.redirect(to: signIn.next)
        response.setCookie(
            Cookie(
                name: Self.oidcCookie,
                value: "",
                maxAge: 0,
                path: "/login/oidc",
                secure: ConsoleSessions.isSecure(request)
            )
        )
        response.setCookie(
            ConsoleSessions.cookie(self.sessions.seal(session), secure: ConsoleSessions.isSecure(request))
        )
        return response
    }

    private func logout(_ request: Request) async throws -> Response {
        var body = request
        let bytes = try await body.collectBody(upTo: Self.formLimit)
        let form = try URLEncodedFormDecoder().decode(CSRFForm.self, from: String(buffer: bytes))
        guard let cookie = request.cookies[ConsoleSessions.cookieName]?.value,
            self.sessions.checks(csrf: form.csrf, cookie: cookie)
        else { throw GatewayError.forbidden("The sign-out form lacks this session's CSRF token.") }
        var response = Self.redirect(to: self.authenticator.isEnabled ? "/login" : "/")
        response.setCookie(ConsoleSessions.cookie("", secure: ConsoleSessions.isSecure(request), maxAge: 0))
        return response
    }

    // MARK: Pages

    /// Renders the page `build` makes for a signed-in visit (a redirect to sign in otherwise).
    private func serve(
        _ request: Request,
        path: String,
        admin: Bool = false,
        _ build: (Visit, Chrome) async throws -> (String, Any, HTTPResponse.Status)
    ) async throws -> Response {
        guard let visit = self.visit(request) else {
            let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
            return Self.redirect(to: "/login?next=" + ConsolePages.queryEscape(Self.localPath(next)))
        }
        let chrome = Chrome(
            path: request.uri.path,
            session: visit.session,
            csrf: self.sessions.csrfToken(forCookie: visit.cookie),
            showsUser: self.authenticator.isEnabled
        )
        let template: String
        let view: Any
        let status: HTTPResponse.Status
        if admin && !visit.session.isAdmin {
            (template, view, status) = (
                "message",
                MessagePage(
                    chrome: chrome,
                    heading: "Not allowed",
                    text: "This page is for admins; you are signed in as a viewer."
                ),
                .forbidden
            )
        } else {
            do {
                (template, view, status) = try await build(visit, chrome)
            } catch let error as GatewayError {
                // A bad filter or a missing key is a page with the message, not the API's JSON.
                let heading = error.status.code == 404 ? "Not found" : "Cannot show this"
                (template, view, status) = (
                    "message", MessagePage(chrome: chrome, heading: heading, text: error.message), error.status
                )
            }
        }
        if template == "redirect", let location = view as? String { return Self.redirect(to: location) }
        var response = Self.html(ConsoleTemplates.library.render(view, withTemplate: template) ?? "", status: status)
        if let cookie = visit.newCookie { response.setCookie(cookie) }
        return response
    }

    /// Serves a POST that changes something: admin only, with the session's CSRF token in the form.
    private func change(
        _ request: Request,
        path: String,
        _ build: (Visit, Chrome, String) async throws -> (String, Any, HTTPResponse.Status)
    ) async throws -> Response {
        var body = request
        let bytes = try await body.collectBody(upTo: Self.formLimit)
        let text = String(buffer: bytes)
        let form = try URLEncodedFormDecoder().decode(CSRFForm.self, from: text)
        guard let visit = self.visit(request), self.sessions.checks(csrf: form.csrf, cookie: visit.cookie) else {
            throw GatewayError.forbidden("The form lacks this session's CSRF token: reload the page and try again.")
        }
        return try await self.serve(request, path: path, admin: true) { visit, chrome in
            try await build(visit, chrome, text)
        }
    }

    private func keysPage(
        _ chrome: Chrome,
        _ session: ConsoleSession,
        secret: KeysPage.Secret?,
        error: String?
    )
        -> KeysPage
    {
        var page = self.pages.keysPage(chrome: chrome, session: session, secret: secret, error: error)
        page.canChange = page.canChange && self.administration != nil && self.hasMasterKey
        return page
    }

    private var keysUnavailable: String? {
        self.hasMasterKey ? nil : "Virtual keys need a master key: set `master_key` (or SWITCHYARD_MASTER_KEY) first."
    }

    private func notFound(_ chrome: Chrome, _ text: String) -> (String, Any, HTTPResponse.Status) {
        ("message", MessagePage(chrome: chrome, heading: "Not found", text: text), .notFound)
    }

    // MARK: Responses

    static func html(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .contentSecurityPolicy: Self.contentSecurityPolicy,
                HTTPField.Name("x-content-type-options")!: "nosniff", HTTPField.Name("x-frame-options")!: "DENY",
                HTTPField.Name("referrer-policy")!: "same-origin", .cacheControl: "no-store",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html))
        )
    }

    private static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: type, HTTPField.Name("x-content-type-options")!: "nosniff",
                .cacheControl: "public, max-age=300",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// `path` when it is a path on this site (`/…`, not `//…`), else `/`.
    static func localPath(_ path: String?) -> String {
        guard let path, path.hasPrefix("/"), !path.hasPrefix("//"), !path.contains("\\"), path.utf8.count <= 2048,
            !path.unicodeScalars.contains(where: { $0.value < 0x20 })
        else { return "/" }
        return path
    }

    /// `http(s)://HOST` of the request, for snippets.
    private static func baseURL(_ request: Request) -> String {
        let host = request.head.authority ?? "127.0.0.1:4000"
        let safe = host.unicodeScalars.allSatisfy {
            $0.isASCII && $0.value > 0x20 && !"\"'<>\\`".unicodeScalars.contains($0)
        }
        return (ConsoleSessions.isSecure(request) ? "https://" : "http://") + (safe ? host : "127.0.0.1:4000")
    }

    private static func text(_ value: Substring?, limit: Int) -> String { String((value ?? "").prefix(limit)) }

    /// The log query of the logs page's filters, and the filters as given.
    static func logQuery(_ parameters: Parameters, limit: Int) throws -> (RequestLogQuery, [String: String]) {
        var form: [String: String] = [:]
        for name in ["q", "model", "key", "status"] { form[name] = Self.text(parameters[Substring(name)], limit: 200) }
        var query = RequestLogQuery(limit: limit)
        query.search = form["q"].flatMap { $0.isEmpty ? nil : $0 }
        query.searchWindow = Self.searchWindow
        query.model = form["model"].flatMap { $0.isEmpty ? nil : $0 }
        query.keyName = form["key"].flatMap { $0.isEmpty ? nil : $0 }
        if let status = form["status"], !status.isEmpty {
            guard let code = Int(status), (100...599).contains(code) else {
                throw GatewayError.invalidRequest("`status` must be an HTTP status such as 429.", param: "status")
            }
            query.status = code
        }
        if let before = parameters["before"] {
            guard let seconds = Double(String(before)), seconds.isFinite, seconds > 0 else {
                throw GatewayError.invalidRequest("`before` must be a time in seconds since 1970.", param: "before")
            }
            query.before = Date(timeIntervalSince1970: seconds)
        }
        return (query, form)
    }

    private static func csv(_ records: [RequestLogRecord]) -> Response {
        let columns = [
            "id", "started_at", "key", "team", "endpoint", "model", "provider", "upstream_model", "status", "stream",
            "attempts", "input_tokens", "cached_input_tokens", "output_tokens", "cost_usd", "latency_ms", "ttft_ms",
            "cache", "error",
        ]
        var text = columns.joined(separator: ",") + "\r\n"
        let timestamps = ISO8601DateFormatter()
        for record in records {
            let fields: [String?] = [
                record.id, timestamps.string(from: record.startedAt), record.keyName, record.team,
                record.endpoint, record.model, record.provider, record.upstreamModel, String(record.status),
                String(record.isStreaming), String(record.attempts), record.inputTokens.map(String.init),
                record.cachedInputTokens.map(String.init), record.outputTokens.map(String.init),
                record.costUSD.map { String(format: "%.9f", $0) }, String(format: "%.3f", record.latencyMs),
                record.timeToFirstTokenMs.map { String(format: "%.3f", $0) }, record.cacheStatus, record.error,
            ]
            text += fields.map { Self.csvField($0 ?? "") }.joined(separator: ",") + "\r\n"
        }
        return Self.download(text, type: "text/csv; charset=utf-8", name: "switchyard-requests.csv")
    }

    /// A CSV field: quoted when needed, and a leading `=`, `+`, `-` or `@` neutralised so
    /// spreadsheets do not run it as a formula.
    static func csvField(_ value: String) -> String {
        var value = value
        if let first = value.first, "=+-@\t\r".contains(first) { value = "'" + value }
        guard value.contains(where: { ",\"\r\n".contains($0) }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static func jsonLines(_ records: [RequestLogRecord]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        var text = ""
        for record in records {
            guard let line = try? encoder.encode(record) else { continue }
            text += String(decoding: line, as: UTF8.self) + "\n"
        }
        return Self.download(text, type: "application/x-ndjson", name: "switchyard-requests.jsonl")
    }

    private static func download(_ text: String, type: String, name: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: type, .contentDisposition: "attachment; filename=\"\(name)\"", .cacheControl: "no-store",
                HTTPField.Name("x-content-type-options")!: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    private static func randomToken() -> String {
        (0..<4).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined()
    }
}

/// The sign-in form.
struct LoginForm: Decodable {
    var key: String
    var csrf: String?
    var next: String?
}

/// Any console form: only its CSRF token is read first.
struct CSRFForm: Decodable {
    var csrf: String?
}

/// The keys page's create form.
struct CreateKeyForm: Decodable {
    var name: String
    var role: String?
    var team: String?
    var models: String?
    var budget: String?
    var period: String?

    /// The admin API's body for this key, so both take the same checks.
    func json() throws(GatewayError) -> Data {
        var object: [String: Any] = ["name": self.name, "role": self.role ?? "client"]
        if let team = self.team?.trimmingCharacters(in: .whitespaces), !team.isEmpty { object["team"] = team }
        if let models = self.models?.trimmingCharacters(in: .whitespaces), !models.isEmpty {
            object["models"] = models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        if let budget = self.budget?.trimmingCharacters(in: .whitespaces), !budget.isEmpty {
            guard let usd = Double(budget), usd.isFinite, usd > 0 else {
                throw .invalidRequest("The budget must be a number of US dollars above 0.", param: "budget")
            }
            object["budget"] = ["usd": usd, "period": self.period ?? "monthly"]
        }
        return (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
    }
}
