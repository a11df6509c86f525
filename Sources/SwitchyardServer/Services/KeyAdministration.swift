// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore

/// Creates, revokes and rotates virtual keys, each change audited with its actor: what the admin
/// API (``KeyRoutes``) and the console's keys page both do.
struct KeyAdministration: Sendable {
    let registry: KeyRegistry
    let audit: any AuditStore

    /// The key with `id`, or a 404.
    func key(_ id: String) throws(GatewayError) -> VirtualKey {
        guard let key = self.registry.key(id) else {
            throw GatewayError.notFound("There is no key `\(id.prefix(100))`.", param: "id", code: "key_not_found")
        }
        return key
    }

    /// Creates the key `input` describes; returns it with its secret, shown once.
    func create(_ input: CreateKey, by admin: Caller) async throws -> (key: VirtualKey, secret: String) {
        if input.role == .admin, admin.role != .admin {
            throw GatewayError.forbidden("Only an admin may create an admin key.")
        }
        let (key, secret) = VirtualKey.create(
            name: input.name,
            team: input.team,
            role: input.role,
            models: input.models,
            expiresAt: input.expiresAt,
            zeroDataRetention: input.zeroDataRetention,
            metadata: input.metadata,
            budget: input.budget,
            limits: input.limits
        )
        try await self.registry.save(key)
        var detail = ["name": key.name, "role": key.role.rawValue]
        if let team = key.team { detail["team"] = team }
        if let models = key.models { detail["models"] = models.joined(separator: ",") }
        if let budget = key.budget { detail["budget"] = "\(budget.usd) USD \(budget.period.rawValue)" }
        if let limits = key.limits { detail["limits"] = PolicyView.text(limits) }
        try await self.audit.appendAudit(
            AuditEntry(actor: AuditEntry.actor(admin), action: "key.create", target: key.id, detail: detail)
        )
        return (key, secret)
    }

    /// Revokes the key `id` (again: nothing changes).
    func revoke(_ id: String, by admin: Caller) async throws -> VirtualKey {
        var key = try self.key(id)
        guard key.revokedAt == nil else { return key }
        key.revokedAt = Date()
        try await self.registry.save(key)
        try await self.audit.appendAudit(
            AuditEntry(actor: AuditEntry.actor(admin), action: "key.revoke", target: key.id)
        )
        return key
    }

    /// Gives the key `id` a new secret; the old one stays valid for `grace`.
    func rotate(_ id: String, grace: Duration, by admin: Caller) async throws -> (key: VirtualKey, secret: String) {
        let key = try self.key(id)
        guard key.revokedAt == nil else {
            throw GatewayError.invalidRequest(
                "The key `\(key.id)` is revoked: create a new one instead.",
                code: "key_revoked"
            )
        }
        let (rotated, secret) = key.rotated(grace: grace)
        try await self.registry.save(rotated)
        try await self.audit.appendAudit(
            AuditEntry(
                actor: AuditEntry.actor(admin),
                action: "key.rotate",
                target: key.id,
                detail: ["grace_period_seconds": "\(grace.components.seconds)"]
            )
        )
        return (rotated, secret)
    }
}
