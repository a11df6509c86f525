// SPDX-License-Identifier: Apache-2.0

import Foundation
import Hummingbird
import SwitchyardCore

/// `GET /v1/models` and `GET /v1/models/{id}`: the served models with their catalog fields.
/// `GET /v1/models/{id}` adds each route's live statistics.
struct ModelRoutes<Context: RequestContext> {
    let models: ModelTable
    let authenticator: Authenticator
    let statistics: RouteStatistics

    func register(on router: Router<Context>) {
        let listing = ModelListing.list(self.models)
        let encoded = ByteBuffer(bytes: (try? JSONDecoderFactory.encoder.encode(listing)) ?? Data())
        router.get("/v1/models") { request, _ in
            _ = try await self.authenticator.authenticate(CompletionRoutes.presentedKey(request.headers))
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: encoded))
        }
        router.get("/v1/models/**") { request, context in
            _ = try await self.authenticator.authenticate(CompletionRoutes.presentedKey(request.headers))
            let id = context.parameters.getCatchAll().joined(separator: "/")
            guard let model = self.models.resolve(id) else {
                throw GatewayError.notFound(
                    "The model `\(id)` does not exist on this gateway.",
                    param: "model",
                    code: "model_not_found"
                )
            }
            var entry = ModelListing.Entry(model)
            for index in entry.routes.indices {
                entry.routes[index].stats = self.statistics.state(model.routes[index].label)?.summary
            }
            let body = try JSONDecoderFactory.encoder.encode(entry)
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: body))
            )
        }
    }
}

/// The `/v1/models` wire format: OpenAI's list shape plus the catalog fields of SPEC §1.
public enum ModelListing {
    /// `{"object": "list", "data": [...]}`.
    public struct List: Encodable {
        /// Always `list`.
        public var object = "list"
        /// The models.
        public var data: [Entry]
    }

    /// The listing of every served model.
    public static func list(_ models: ModelTable) -> List {
        List(data: models.publicNames.compactMap { models.resolve($0) }.map(Entry.init))
    }

    /// One model.
    public struct Entry: Encodable {
        var id: String
        var object = "model"
        var created: Int
        var ownedBy: String
        var name: String?
        var kind: String
        var snapshot: String?
        var released: String?
        var knowledgeCutoff: String?
        var contextWindow: Int?
        var maxOutputTokens: Int?
        var pricing: Pricing?
        var modalities: Modalities
        var capabilities: Capabilities
        var supportedParameters: [String]
        var dimensions: Int?
        var strategy: String
        var routes: [RouteEntry]

        enum CodingKeys: String, CodingKey {
            case id, object, created, name, kind, snapshot, released, pricing, modalities, capabilities, dimensions,
                routes, strategy
            case ownedBy = "owned_by"
            case knowledgeCutoff = "knowledge_cutoff"
            case contextWindow = "context_window"
            case maxOutputTokens = "max_output_tokens"
            case supportedParameters = "supported_parameters"
        }

        init(_ model: ResolvedModel) {
            let facts = model.routes.first?.catalogModel
            self.id = model.publicName
            self.created = facts?.released.flatMap(Self.epoch) ?? 0
            self.ownedBy = facts?.ownedBy ?? model.routes.first?.provider.name ?? "switchyard"
            self.name = facts?.name
            self.kind = (model.kind ?? .chat).rawValue
            self.snapshot = facts?.snapshot
            self.released = facts?.released
            self.knowledgeCutoff = facts?.knowledgeCutoff
            // Model-level facts are those of the first route, the one tried first.
            let primary = model.routes.first
            self.contextWindow = primary?.contextWindow
            self.maxOutputTokens = primary?.maxOutputTokens
            self.pricing = primary?.pricing
            self.modalities = primary?.modalities ?? .text
            self.capabilities = primary?.capabilities ?? .all
            self.supportedParameters = primary?.supportedParameters ?? []
            self.dimensions = facts?.dimensions
            self.strategy = model.strategyName
            self.routes = model.routes.map(RouteEntry.init)
        }

        private static func epoch(_ date: String) -> Int? {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd"
            return formatter.date(from: date).map { Int($0.timeIntervalSince1970) }
        }
    }

    /// One route of a model.
    public struct RouteEntry: Encodable {
        var provider: String
        var model: String
        var contextWindow: Int?
        var maxOutputTokens: Int?
        var pricing: Pricing?
        var modalities: Modalities
        var capabilities: Capabilities
        var supportedParameters: [String]
        var knowledgeCutoff: String?
        /// Live statistics, in `GET /v1/models/{id}` only.
        var stats: RouteSummary?

        enum CodingKeys: String, CodingKey {
            case provider, model, pricing, modalities, capabilities, stats
            case contextWindow = "context_window"
            case maxOutputTokens = "max_output_tokens"
            case supportedParameters = "supported_parameters"
            case knowledgeCutoff = "knowledge_cutoff"
        }

        init(_ route: Route) {
            self.provider = route.provider.name
            self.model = route.upstreamModel
            self.contextWindow = route.contextWindow
            self.maxOutputTokens = route.maxOutputTokens
            self.pricing = route.pricing
            self.modalities = route.modalities
            self.capabilities = route.capabilities
            self.supportedParameters = route.supportedParameters
            self.knowledgeCutoff = route.catalogModel?.knowledgeCutoff
        }
    }
}
