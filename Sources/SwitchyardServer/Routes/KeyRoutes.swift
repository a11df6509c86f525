// SPDX-License-Identifier: Apache-2.0

import Foundation
import Hummingbird
import SwitchyardCore

/// The admin API's virtual keys: `POST /admin/keys`, `GET /admin/keys`, `GET /admin/keys/{id}`,
/// `PATCH /admin/keys/{id}` (change settings), `DELETE /admin/keys/{id}` (revoke) and
/// `POST /admin/keys/{id}/rotate`; and `GET /admin/audit`.
///
/// Secrets are returned once, when created or rotated; the store keeps salted hashes only. Every
/// change is written to the audit log with its actor.
struct KeyRoutes<Context: RequestContext> {
    let registry: KeyRegistry
    let audit: any AuditStore
    let authenticator: Authenticator
    /// Keys can only be created once a master key is set: without one the admin API is open on
    /// loopback, and the first key would lock it.
    let hasMasterKey: Bool
    let maxBodyBytes: Int

    /// Longest rotation grace period.
    static var maxGrace: Duration { .seconds(30 * 86_400) }

    func register(on router: Router<Context>) {
        router.post("/admin/keys") { request, _ in
            let admin = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: true
            )
            guard self.hasMasterKey else {
                throw GatewayError.invalidRequest(
                    "Virtual keys need a master key: set `master_key` (or SWITCHYARD_MASTER_KEY) first.",
                    code: "master_key_required"
                )
            }
            var body = request
            let bytes = try await body.collectBody(upTo: self.maxBodyBytes)
            let input = try CreateKey(json: Data(buffer: bytes))
            let (key, secret) = try await self.administration.create(input, by: admin)
            return try Self.json(VirtualKeyView(key, secret: secret), status: .created)
        }
        router.get("/admin/keys") { request, _ in
            _ = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: true
            )
            return try Self.json(KeyList(data: self.registry.all.map { VirtualKeyView($0) }))
        }
        router.get("/admin/keys/:id") { request, context in
            _ = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: true
            )
            return try Self.json(VirtualKeyView(try self.key(context)))
        }
        router.patch("/admin/keys/:id") { request, context in
            let admin = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: true
            )
            let key = try self.key(context)
            var body = request
            let bytes = try await body.collectBody(upTo: self.maxBodyBytes)
            let (updated, changed) = try KeyUpdate.apply(Data(buffer: bytes), to: key)
            guard !changed.isEmpty else { return try Self.json(VirtualKeyView(key)) }
            try await self.registry.save(updated)
            try await self.audit.appendAudit(
                AuditEntry(
                    actor: AuditEntry.actor(admin),
                    action: "key.update",
                    target: key.id,
                    detail: ["changed": changed.joined(separator: ",")]
                )
            )
            return try Self.json(VirtualKeyView(updated))
        }
        router.delete("/admin/keys/:id") { request, context in
            let admin = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: true
            )
            let key = try await self.administration.revoke(context.parameters.get("id") ?? "", by: admin)
            return try Self.json(VirtualKeyView(key))
        }
        router.post("/admin/keys/:id/rotate") { request, context in
            let admin = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: true
            )
            var body = request
            let bytes = try await body.collectBody(upTo: self.maxBodyBytes)
            let grace = try Self.grace(Data(buffer: bytes))
            let (rotated, secret) = try await self.administration.rotate(
                context.parameters.get("id") ?? "",
                grace: grace,
                by: admin
            )
            return try Self.json(VirtualKeyView(rotated, secret: secret))
        }
        router.get("/admin/audit") { request, _ in
            _ = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: true
            )
            let parameters = request.uri.queryParameters
            let query = try OperationsRoutes<Context>.logQuery(parameters)
            let entries = try await self.audit.auditEntries(since: query.since, limit: query.limit)
            return try Self.json(AuditList(data: entries))
        }
    }

    private func key(_ context: Context) throws -> VirtualKey {
        try self.administration.key(context.parameters.get("id") ?? "")
    }

    private var administration: KeyAdministration { KeyAdministration(registry: self.registry, audit: self.audit) }

    /// `{"grace_period": "1h"}` (default 1h, at most 30 days); an empty body takes the default.
    static func grace(_ data: Data) throws -> Duration {
        guard !data.isEmpty else { return .seconds(3600) }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw GatewayError.invalidRequest("The body must be a JSON object such as {\"grace_period\": \"1h\"}.")
        }
        for name in object.keys where name != "grace_period" {
            throw GatewayError.invalidRequest("`\(name)` is not a rotation setting; known: grace_period.", param: name)
        }
        guard let text = object["grace_period"] else { return .seconds(3600) }
        guard let text = text as? String, let grace = ConfigDuration(parsing: text)?.duration, grace >= .zero,
            grace <= Self.maxGrace
        else {
            throw GatewayError.invalidRequest(
                "`grace_period` must be a duration such as 0s, 15m or 24h, at most 720h.",
                param: "grace_period",
                code: "invalid_value"
            )
        }
        return grace
    }

    private static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try VirtualKeyView.encoder.encode(value)))
        )
    }

    struct AuditList: Encodable {
        var object = "list"
        var data: [AuditEntry]
    }

    struct KeyList: Encodable {
        var object = "list"
        var data: [VirtualKeyView]
    }
}

/// The body of `POST /admin/keys`, checked member by member so a 400 names what is wrong.
struct CreateKey {
    var name: String
    var team: String?
    var role: VirtualKey.Role = .client
    var models: [String]?
    var expiresAt: Date?
    var zeroDataRetention = false
    var metadata: [String: String] = [:]
    var budget: Budget?
    var limits: RateLimits?

    static let members = [
        "name", "team", "role", "models", "expires_at", "zero_data_retention", "metadata", "budget", "limits",
    ]

    // swiftlint:disable identifier_name
    private struct Wire: Decodable {
        var name: String?
        var team: String?
        var role: String?
        var models: [String]?
        var expires_at: String?
        var zero_data_retention: Bool?
        var metadata: [String: String]?
    }
    // swiftlint:enable identifier_name

    init(json data: Data) throws(GatewayError) {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .invalidRequest("The body must be a JSON object such as {\"name\": \"team-a\"}.")
        }
        for name in object.keys.sorted() where !Self.members.contains(name) {
            throw .invalidRequest(
                "`\(name)` is not a key setting; known: \(Self.members.joined(separator: ", ")).",
                param: name
            )
        }
        self.budget = try PolicyInput.budget(object["budget"], path: "budget")
        self.limits = try PolicyInput.limits(object["limits"], path: "limits")
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: data)
        } catch let DecodingError.typeMismatch(type, context) {
            let field = context.codingPath.first?.stringValue ?? "body"
            throw .invalidRequest("`\(field)` has the wrong type: expected \(type).", param: field)
        } catch {
            throw .invalidRequest("The body could not be read as key settings.")
        }
        func text(_ value: String?, _ name: String, limit: Int = 200) throws(GatewayError) -> String? {
            guard let value else { return nil }
            guard !value.isEmpty, value.count <= limit else {
                throw .invalidRequest(
                    "`\(name)` must be a non-empty string of at most \(limit) characters.",
                    param: name
                )
            }
            return value
        }
        guard let name = try text(wire.name, "name") else {
            throw .invalidRequest("`name` is required: a name to recognise the key by.", param: "name")
        }
        self.name = name
        self.team = try text(wire.team, "team")
        if let role = wire.role {
            guard let parsed = VirtualKey.Role(rawValue: role) else {
                throw .invalidRequest("`role` must be client, admin or viewer.", param: "role", code: "invalid_value")
            }
            self.role = parsed
        }
        if let models = wire.models {
            guard models.count <= 1000, !models.contains(where: \.isEmpty) else {
                throw .invalidRequest("`models` must be a list of at most 1,000 model names.", param: "models")
            }
            self.models = models
        }
        if let expiry = try text(wire.expires_at, "expires_at", limit: 64) {
            guard let date = ISO8601DateFormatter().date(from: expiry) else {
                throw .invalidRequest(
                    "`expires_at` must be an ISO 8601 time such as 2027-01-31T00:00:00Z.",
                    param: "expires_at",
                    code: "invalid_value"
                )
            }
            self.expiresAt = date
        }
        self.zeroDataRetention = wire.zero_data_retention ?? false
        if let metadata = wire.metadata {
            guard metadata.count <= 32, metadata.allSatisfy({ $0.key.count <= 64 && $0.value.count <= 512 }) else {
                throw .invalidRequest(
                    "`metadata` must map at most 32 names (64 characters) to strings (512 characters).",
                    param: "metadata"
                )
            }
            self.metadata = metadata
        }
    }
}

/// The body of `PATCH /admin/keys/{id}`: the members given replace the key's, `null` clears one;
/// each is checked as on creation. The role cannot change: a key with other powers is a new key.
enum KeyUpdate {
    static let members = [
        "name", "team", "models", "expires_at", "zero_data_retention", "metadata", "budget", "limits",
    ]

    /// `key` with the body's changes, and the names of the members that changed.
    static func apply(_ data: Data, to key: VirtualKey) throws(GatewayError) -> (VirtualKey, [String]) {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .invalidRequest(
                "The body must be a JSON object such as {\"budget\": {\"usd\": 50, \"period\": \"monthly\"}}."
            )
        }
        if object["role"] != nil {
            throw .invalidRequest(
                "A key's `role` cannot change: create a key with the new role and revoke this one.",
                param: "role"
            )
        }
        for name in object.keys.sorted() where !Self.members.contains(name) {
            throw .invalidRequest(
                "`\(name)` is not a key setting that can change; known: \(Self.members.joined(separator: ", ")).",
                param: name
            )
        }
        // The same checks as on creation: the body, with the key's name when it keeps it.
        var complete = object.filter { !($0.value is NSNull) }
        if complete["name"] == nil { complete["name"] = key.name }
        let input: CreateKey
        do {
            input = try CreateKey(json: try JSONSerialization.data(withJSONObject: complete))
        } catch let error as GatewayError {
            throw error
        } catch {
            throw .invalidRequest("The body could not be read as key settings.")
        }
        var updated = key
        for name in object.keys.sorted() {
            switch name {
            case "name": updated.name = input.name
            case "team": updated.team = input.team
            case "models": updated.models = input.models
            case "expires_at": updated.expiresAt = input.expiresAt
            case "zero_data_retention": updated.zeroDataRetention = input.zeroDataRetention
            case "metadata": updated.metadata = input.metadata
            case "budget": updated.budget = input.budget
            case "limits": updated.limits = input.limits
            default: break
            }
        }
        let changed = Self.members.filter { name in
            switch name {
            case "name": updated.name != key.name
            case "team": updated.team != key.team
            case "models": updated.models != key.models
            case "expires_at": updated.expiresAt != key.expiresAt
            case "zero_data_retention": updated.zeroDataRetention != key.zeroDataRetention
            case "metadata": updated.metadata != key.metadata
            case "budget": updated.budget != key.budget
            case "limits": updated.limits != key.limits
            default: false
            }
        }
        return (updated, changed)
    }
}

/// A key as the admin API and `switchyard keys` show it: never a hash; the secret only when just made.
public struct VirtualKeyView: Encodable {
    /// Sorted keys, ISO 8601 times.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    var object = "key"
    var id: String
    var key: String?
    var name: String
    var team: String?
    var role: String
    var models: [String]?
    var expiresAt: Date?
    var zeroDataRetention: Bool
    var metadata: [String: String]
    var budget: Budget?
    var limits: RateLimits?
    var createdAt: Date
    var revokedAt: Date?
    var secretPrefix: String
    var previousSecretValidUntil: Date?

    enum CodingKeys: String, CodingKey {
        case object, id, key, name, team, role, models, metadata, budget, limits
        case expiresAt = "expires_at"
        case zeroDataRetention = "zero_data_retention"
        case createdAt = "created_at"
        case revokedAt = "revoked_at"
        case secretPrefix = "secret_prefix"
        case previousSecretValidUntil = "previous_secret_valid_until"
    }

    /// The view of `key`, with `secret` when it was just made.
    public init(_ key: VirtualKey, secret: String? = nil) {
        self.id = key.id
        self.key = secret
        self.name = key.name
        self.team = key.team
        self.role = key.role.rawValue
        self.models = key.models
        self.expiresAt = key.expiresAt
        self.zeroDataRetention = key.zeroDataRetention
        self.metadata = key.metadata
        self.budget = key.budget
        self.limits = key.limits
        self.createdAt = key.createdAt
        self.revokedAt = key.revokedAt
        self.secretPrefix = key.secretPrefix + "…"
        self.previousSecretValidUntil = key.previousSecretValidUntil
    }
}
