// SPDX-License-Identifier: Apache-2.0

import Foundation
import Hummingbird
import SwitchyardCore

/// The admin API's teams: `POST /admin/teams`, `GET /admin/teams`, `GET /admin/teams/{name}`,
/// `PUT /admin/teams/{name}` (set budget, limits and metadata) and `DELETE /admin/teams/{name}`; the
/// team's own provider keys: `GET /admin/teams/{name}/credentials`,
/// `PUT /admin/teams/{name}/credentials/{provider}` and `DELETE /admin/teams/{name}/credentials/{provider}`.
///
/// A key joins a team by naming it (`team`); a team's budget and limits are drawn from by all its
/// keys together, beside each key's own. Every change is written to the audit log.
struct TeamRoutes<Context: RequestContext> {
    let registry: KeyRegistry
    let audit: any AuditStore
    let quotas: any QuotaStore
    let ledger: QuotaLedger
    let authenticator: Authenticator
    let maxBodyBytes: Int
    /// Where teams' own provider keys are sealed; `nil` without a credential key.
    let vault: CredentialVault?
    /// The configured providers, by name.
    let providers: [String: any Provider]

    func register(on router: Router<Context>) {
        self.registerCredentials(on: router)
        router.post("/admin/teams") { request, _ in
            let admin = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: true
            )
            let input = try await TeamInput(request, maxBodyBytes: self.maxBodyBytes, needsName: true)
            let name = input.name ?? ""
            guard self.registry.team(name) == nil else {
                throw GatewayError(
                    status: .conflict,
                    message: "There is a team `\(name)` already: change it with PUT /admin/teams/\(name).",
                    type: "invalid_request_error",
                    param: "name",
                    code: "team_exists"
                )
            }
            let team = Team(name: name, policy: input.policy, metadata: input.metadata)
            try await self.save(team, action: "team.create", admin: admin)
            return try await self.view(team, status: .created)
        }
        router.get("/admin/teams") { request, _ in
            _ = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: false
            )
            var views: [TeamView] = []
            for team in self.registry.teams { views.append(try await self.teamView(team)) }
            return try PolicyView.json(TeamList(data: views))
        }
        router.get("/admin/teams/:name") { request, context in
            _ = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: false
            )
            return try await self.view(try self.team(context))
        }
        router.put("/admin/teams/:name") { request, context in
            let admin = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: true
            )
            let name = context.parameters.get("name") ?? ""
            let input = try await TeamInput(request, maxBodyBytes: self.maxBodyBytes, needsName: false)
            try TeamInput.check(name: name)
            if let other = input.name, other != name {
                throw GatewayError.invalidRequest("`name` must match the path (`\(name)`).", param: "name")
            }
            let existing = self.registry.team(name)
            let team = Team(
                name: name,
                policy: input.policy,
                metadata: input.metadata,
                createdAt: existing?.createdAt ?? Date()
            )
            try await self.save(team, action: existing == nil ? "team.create" : "team.update", admin: admin)
            return try await self.view(team, status: existing == nil ? .created : .ok)
        }
        router.delete("/admin/teams/:name") { request, context in
            let admin = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: true
            )
            let team = try self.team(context)
            // The team's own provider keys go with it: no key or token may name it to use them.
            for sealed in try await self.vault?.store.sealedCredentials() ?? [] where sealed.team == team.name {
                try await self.vault?.delete(team: team.name, provider: sealed.provider)
            }
            try await self.registry.deleteTeam(team.name)
            try await self.audit.appendAudit(
                AuditEntry(actor: AuditEntry.actor(admin), action: "team.delete", target: team.name)
            )
            return try await self.view(team)
        }
    }

    private func registerCredentials(on router: Router<Context>) {
        router.get("/admin/teams/:name/credentials") { request, context in
            _ = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: false
            )
            let team = try self.team(context)
            let sealed = try await self.vault?.store.sealedCredentials() ?? []
            return try PolicyView.json(
                CredentialList(data: sealed.filter { $0.team == team.name }.map(CredentialView.init))
            )
        }
        router.put("/admin/teams/:name/credentials/:provider") { request, context in
            let admin = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: true
            )
            let team = try self.team(context)
            let provider = try self.provider(context)
            guard let vault = self.vault else {
                throw GatewayError.invalidRequest(
                    "Provider keys are stored sealed under a credential key, and none is set: start the gateway with "
                        + "SWITCHYARD_CREDENTIAL_KEY (or `credential_key`) set to `openssl rand -base64 32`.",
                    code: "credential_key_missing"
                )
            }
            var body = request
            let bytes = try await body.collectBody(upTo: self.maxBodyBytes)
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any]
            for name in (object ?? [:]).keys.sorted() where name != "api_key" {
                throw GatewayError.invalidRequest("`\(name)` is not a credential setting; known: api_key.", param: name)
            }
            guard let key = object?["api_key"] as? String, !key.isEmpty, key.utf8.count <= 4_096,
                !key.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F })
            else {
                throw GatewayError.invalidRequest(
                    "The body must be {\"api_key\": \"...\"}: the team's key for `\(provider)`, printable, at most 4,096 bytes.",
                    param: "api_key"
                )
            }
            let sealed = try await vault.save(key, team: team.name, provider: provider)
            try await self.audit.appendAudit(
                AuditEntry(
                    actor: AuditEntry.actor(admin),
                    action: "credential.set",
                    target: "\(team.name)/\(provider)",
                    detail: ["hint": sealed.hint]
                )
            )
            return try PolicyView.json(CredentialView(sealed))
        }
        router.delete("/admin/teams/:name/credentials/:provider") { request, context in
            let admin = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: true
            )
            let team = try self.team(context)
            let provider = context.parameters.get("provider") ?? ""
            let sealed = try await self.vault?.store.sealedCredentials() ?? []
            guard let existing = sealed.first(where: { $0.team == team.name && $0.provider == provider }), let vault
            else {
                throw GatewayError.notFound(
                    "The team `\(team.name)` has no key of its own for `\(provider)`.",
                    param: "provider",
                    code: "credential_not_found"
                )
            }
            try await vault.delete(team: team.name, provider: provider)
            try await self.audit.appendAudit(
                AuditEntry(
                    actor: AuditEntry.actor(admin),
                    action: "credential.delete",
                    target: "\(team.name)/\(provider)"
                )
            )
            return try PolicyView.json(CredentialView(existing))
        }
    }

    /// The configured provider named in the path, if it takes a team's own key.
    private func provider(_ context: Context) throws -> String {
        let name = context.parameters.get("provider") ?? ""
        guard let provider = self.providers[name] else {
            throw GatewayError.notFound(
                "There is no provider `\(name)`; configured: \(self.providers.keys.sorted().joined(separator: ", ")).",
                param: "provider",
                code: "provider_not_found"
            )
        }
        guard provider.acceptsOwnKey else {
            throw GatewayError.invalidRequest(
                "The provider `\(name)` takes no API key, so a team cannot bring its own.",
                param: "provider",
                code: "invalid_value"
            )
        }
        return name
    }

    struct CredentialList: Encodable {
        var object = "list"
        var data: [CredentialView]
    }

    /// A team's own key as the admin API shows it: never the key, only its first and last characters.
    struct CredentialView: Encodable {
        var object = "credential"
        var team: String
        var provider: String
        var hint: String
        var createdAt: Date

        init(_ sealed: SealedCredential) {
            self.team = sealed.team
            self.provider = sealed.provider
            self.hint = sealed.hint
            self.createdAt = sealed.createdAt
        }

        enum CodingKeys: String, CodingKey {
            case object, team, provider, hint
            case createdAt = "created_at"
        }
    }

    private func save(_ team: Team, action: String, admin: Caller) async throws {
        try await self.registry.save(team)
        var detail: [String: String] = [:]
        if let budget = team.policy.budget { detail["budget"] = "\(budget.usd) USD \(budget.period.rawValue)" }
        if let limits = team.policy.limits { detail["limits"] = PolicyView.text(limits) }
        try await self.audit.appendAudit(
            AuditEntry(actor: AuditEntry.actor(admin), action: action, target: team.name, detail: detail)
        )
    }

    private func team(_ context: Context) throws -> Team {
        let name = context.parameters.get("name") ?? ""
        guard let team = self.registry.team(name) else {
            throw GatewayError.notFound("There is no team `\(name)`.", param: "name", code: "team_not_found")
        }
        return team
    }

    private func view(_ team: Team, status: HTTPResponse.Status = .ok) async throws -> Response {
        try PolicyView.json(try await self.teamView(team), status: status)
    }

    private func teamView(_ team: Team) async throws -> TeamView {
        TeamView(
            name: team.name,
            budget: team.policy.budget,
            limits: team.policy.limits,
            budgetStatus: try await PolicyView.status(
                of: team.policy.budget,
                counter: "team:" + team.name,
                store: self.quotas,
                ledger: self.ledger
            ),
            keys: self.registry.all.filter { $0.team == team.name && $0.revokedAt == nil }.count,
            metadata: team.metadata,
            createdAt: team.createdAt
        )
    }

    struct TeamList: Encodable {
        var object = "list"
        var data: [TeamView]
    }

    struct TeamView: Encodable {
        var object = "team"
        var name: String
        var budget: Budget?
        var limits: RateLimits?
        var budgetStatus: PolicyView.BudgetStatus?
        var keys: Int
        var metadata: [String: String]
        var createdAt: Date

        enum CodingKeys: String, CodingKey {
            case object, name, budget, limits, keys, metadata
            case budgetStatus = "budget_status"
            case createdAt = "created_at"
        }
    }
}

/// The body of `POST /admin/teams` and `PUT /admin/teams/{name}`.
struct TeamInput {
    var name: String?
    var policy: SpendPolicy
    var metadata: [String: String] = [:]

    static let members = ["name", "budget", "limits", "metadata"]

    init(_ request: Request, maxBodyBytes: Int, needsName: Bool) async throws {
        var request = request
        let bytes = try await request.collectBody(upTo: maxBodyBytes)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any] else {
            throw GatewayError.invalidRequest(
                "The body must be a JSON object such as {\"name\": \"research\", \"budget\": {\"usd\": 100, \"period\": \"monthly\"}}."
            )
        }
        for name in object.keys.sorted() where !Self.members.contains(name) {
            throw GatewayError.invalidRequest(
                "`\(name)` is not a team setting; known: \(Self.members.joined(separator: ", ")).",
                param: name
            )
        }
        if let name = object["name"] {
            guard let name = name as? String else {
                throw GatewayError.invalidRequest("`name` must be a string.", param: "name")
            }
            try Self.check(name: name)
            self.name = name
        } else if needsName {
            throw GatewayError.invalidRequest("`name` is required: the name keys use as their `team`.", param: "name")
        }
        self.policy = SpendPolicy(
            budget: try PolicyInput.budget(object["budget"], path: "budget"),
            limits: try PolicyInput.limits(object["limits"], path: "limits")
        )
        if let metadata = object["metadata"] {
            guard let metadata = metadata as? [String: String], metadata.count <= 32,
                metadata.allSatisfy({ $0.key.count <= 64 && $0.value.count <= 512 })
            else {
                throw GatewayError.invalidRequest(
                    "`metadata` must map at most 32 names (64 characters) to strings (512 characters).",
                    param: "metadata"
                )
            }
            self.metadata = metadata
        }
    }

    /// A team name: 1 to 200 characters, no control characters or slashes (it appears in paths).
    static func check(name: String) throws(GatewayError) {
        guard !name.isEmpty, name.count <= 200, !name.contains("/"),
            !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw GatewayError.invalidRequest(
                "`name` must be 1 to 200 characters without slashes or control characters.",
                param: "name"
            )
        }
    }
}

/// How budgets and limits appear in admin answers.
enum PolicyView {
    /// Where a budget stands in its current period.
    struct BudgetStatus: Encodable {
        var window: String
        var periodStart: Date?
        var periodEnd: Date?
        var spentUSD: Double
        var remainingUSD: Double

        enum CodingKeys: String, CodingKey {
            case window
            case periodStart = "period_start"
            case periodEnd = "period_end"
            case spentUSD = "spent_usd"
            case remainingUSD = "remaining_usd"
        }
    }

    /// The current period of `budget` on the counter `counter`: what the store has, plus what this
    /// instance has not reported yet.
    static func status(
        of budget: Budget?,
        counter: String,
        store: any QuotaStore,
        ledger: QuotaLedger,
        now: Date = Date()
    ) async throws -> BudgetStatus? {
        guard let budget else { return nil }
        let window = budget.window(at: now)
        let key = QuotaKey(name: counter + ":usd", window: window.name)
        let stored = try await store.quotaSpent(key)
        let local = ledger.snapshot(key)
        let spent = max(stored, local?.spent ?? 0)
        return BudgetStatus(
            window: window.name,
            periodStart: window.start,
            periodEnd: window.end,
            spentUSD: Self.rounded(spent),
            remainingUSD: Self.rounded(max(0, budget.usd - spent))
        )
    }

    /// Dollars to a billionth, so sums of prices print without binary noise.
    static func rounded(_ usd: Double) -> Double { (usd * 1e9).rounded() / 1e9 }

    /// `rpm=600 tpm=200000`, for the audit log.
    static func text(_ limits: RateLimits) -> String {
        [limits.rpm.map { "rpm=\($0)" }, limits.tpm.map { "tpm=\($0)" }].compactMap { $0 }.joined(separator: " ")
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try VirtualKeyView.encoder.encode(value)))
        )
    }
}
