// SPDX-License-Identifier: Apache-2.0

import Foundation
import Hummingbird
import SwitchyardCore

/// Spend from the request log: `GET /admin/spend?group_by=team,key,model,day&team=&key=&since=&until=`
/// and `GET /admin/keys/{id}/spend?since=&until=` (a key's total, by day and by model).
/// The master key, admin keys and viewer keys may read them.
struct SpendRoutes<Context: RequestContext> {
    let store: any SpendStore
    let registry: KeyRegistry
    let authenticator: Authenticator

    func register(on router: Router<Context>) {
        router.get("/admin/spend") { request, _ in
            _ = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: false
            )
            let parameters = request.uri.queryParameters
            var query = try Self.query(parameters)
            query.groupBy = try Self.dimensions(parameters.get("group_by"))
            query.team = parameters.get("team")
            query.keyID = parameters.get("key")
            return try Self.json(SpendList(groupBy: query.groupBy, data: try await self.store.spend(query)))
        }
        router.get("/admin/keys/:id/spend") { request, context in
            _ = try await self.authenticator.authenticateAdmin(
                CompletionRoutes.presentedKey(request.headers),
                writes: false
            )
            let id = context.parameters.get("id") ?? ""
            guard let key = self.registry.key(id) else {
                throw GatewayError.notFound("There is no key `\(id)`.", param: "id", code: "key_not_found")
            }
            var query = try Self.query(request.uri.queryParameters)
            query.keyID = key.id
            let total =
                try await self.store.spend(query).first
                ?? SpendRow(calls: 0, inputTokens: 0, outputTokens: 0, costUSD: 0)
            query.groupBy = [.day]
            let byDay = try await self.store.spend(query)
            query.groupBy = [.model]
            let byModel = try await self.store.spend(query)
            return try Self.json(
                KeySpend(keyID: key.id, name: key.name, team: key.team, total: total, byDay: byDay, byModel: byModel)
            )
        }
    }

    /// `since` and `until` from the query string.
    static func query(_ parameters: Parameters) throws -> SpendQuery {
        SpendQuery(
            groupBy: [],
            since: try OperationsRoutes<Context>.time(parameters, "since"),
            until: try OperationsRoutes<Context>.time(parameters, "until")
        )
    }

    /// `team,key,model,day` (any of them, each once); none gives the grand total.
    static func dimensions(_ text: String?) throws -> [SpendDimension] {
        guard let text, !text.isEmpty else { return [] }
        var dimensions: [SpendDimension] = []
        for name in text.split(separator: ",") {
            guard let dimension = SpendDimension(rawValue: String(name)), !dimensions.contains(dimension) else {
                throw GatewayError.invalidRequest(
                    "`group_by` takes team, key, model and day, each at most once, separated by commas; got `\(text)`.",
                    param: "group_by",
                    code: "invalid_value"
                )
            }
            dimensions.append(dimension)
        }
        return dimensions
    }

    private static func json(_ value: some Encodable) throws -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try VirtualKeyView.encoder.encode(value)))
        )
    }

    struct SpendList: Encodable {
        var object = "list"
        var groupBy: [SpendDimension]
        var data: [SpendRow]

        enum CodingKeys: String, CodingKey {
            case object, data
            case groupBy = "group_by"
        }
    }

    struct KeySpend: Encodable {
        var object = "key.spend"
        var keyID: String
        var name: String
        var team: String?
        var total: SpendRow
        var byDay: [SpendRow]
        var byModel: [SpendRow]

        enum CodingKeys: String, CodingKey {
            case object, name, team, total
            case keyID = "key_id"
            case byDay = "by_day"
            case byModel = "by_model"
        }
    }
}
