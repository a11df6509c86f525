// SPDX-License-Identifier: Apache-2.0

import Foundation
import Hummingbird
import SwitchyardCore

/// `DELETE /admin/cache`: removes cached answers, all of them or those of one namespace or model.
///
/// `?team=NAME` stands for the namespace `team:NAME`; `?namespace=` names any namespace as the
/// cache keeps it (`team:NAME`, `key:ID`, or `*` when shared). Admins only; audited.
struct CacheRoutes<Context: RequestContext> {
    let cache: ResponseCache
    let authenticator: Authenticator
    let audit: (any AuditStore)?

    func register(on router: Router<Context>) {
        router.delete("/admin/cache") { request, _ in
            let admin = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: true
            )
            let parameters = request.uri.queryParameters
            for (name, _) in parameters where !["namespace", "team", "model"].contains(String(name)) {
                throw GatewayError.invalidRequest(
                    "`\(name.prefix(64))` is not a filter of DELETE /admin/cache; use namespace, team or model.",
                    param: String(name.prefix(64))
                )
            }
            var namespace = try Self.text(parameters, "namespace")
            if let team = try Self.text(parameters, "team") {
                guard namespace == nil else {
                    throw GatewayError.invalidRequest("Give `team` or `namespace`, not both.", param: "team")
                }
                namespace = "team:" + team
            }
            let model = try Self.text(parameters, "model")
            let removed = try await self.cache.clear(namespace: namespace, model: model)
            var detail = ["removed": "\(removed)"]
            detail["namespace"] = namespace
            detail["model"] = model
            try await self.audit?.appendAudit(
                AuditEntry(actor: AuditEntry.actor(admin), action: "cache.clear", target: nil, detail: detail)
            )
            let body = try JSONDecoderFactory.encoder.encode(
                Cleared(removed: removed, namespace: namespace, model: model)
            )
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: body))
            )
        }
    }

    /// What `DELETE /admin/cache` answers.
    struct Cleared: Encodable {
        var removed: Int
        var namespace: String?
        var model: String?
    }

    /// A non-empty filter of at most 256 characters, if given.
    static func text(_ parameters: Parameters, _ name: String) throws -> String? {
        guard let value = parameters.get(name) else { return nil }
        guard !value.isEmpty, value.count <= 256 else {
            throw GatewayError.invalidRequest("`\(name)` must be 1 to 256 characters.", param: name)
        }
        return value
    }
}
