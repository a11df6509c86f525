// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The models the gateway knows: limits, prices, modalities and capabilities per route.
///
/// It ships as `catalog.json` in this module's resources, may be extended with a LiteLLM price
/// map (`catalog: {import: FILE}`), and is overridden per route by the configuration.
public struct Catalog: Sendable {
    /// Every model, in file order.
    public private(set) var models: [CatalogModel]
    private var index: [String: Int]

    /// Creates a catalog from `models`; a later model with the same id replaces an earlier one.
    public init(models: [CatalogModel]) {
        self.models = []
        self.index = [:]
        for model in models { self.upsert(model) }
    }

    /// The catalog shipped with the gateway.
    public static func bundled() throws -> Catalog {
        guard let url = Bundle.module.url(forResource: "catalog", withExtension: "json") else {
            throw ConfigurationError("the bundled model catalog (catalog.json) is missing from the installation")
        }
        return try Catalog(json: Data(contentsOf: url))
    }

    /// Decodes a catalog file in Switchyard's format.
    public init(json: Data) throws {
        struct File: Decodable { var models: [CatalogModel] }
        self.init(models: try JSONDecoderFactory.decoder.decode(File.self, from: json).models)
    }

    /// The model named `id`.
    public func model(_ id: String) -> CatalogModel? {
        self.index[id].map { self.models[$0] }
    }

    /// The model with a route on provider `provider` for upstream model `model`, and that route.
    public func model(provider: String, upstreamModel: String) -> (CatalogModel, CatalogRoute)? {
        for entry in self.models {
            if let route = entry.routes.first(where: { $0.provider == provider && $0.model == upstreamModel }) {
                return (entry, route)
            }
        }
        return nil
    }

    /// Adds `model`, or replaces the model with the same id.
    public mutating func upsert(_ model: CatalogModel) {
        if let position = self.index[model.id] {
            self.models[position] = model
        } else {
            self.index[model.id] = self.models.count
            self.models.append(model)
        }
    }
}

/// One model of the catalog; model-level fields describe its primary route.
public struct CatalogModel: Sendable, Codable, Equatable {
    /// The public model name clients send.
    public var id: String
    /// Display name.
    public var name: String?
    /// The model's maker (`openai`, `anthropic`, …).
    public var ownedBy: String
    /// `chat` or `embedding`.
    public var kind: Kind
    /// Dated snapshot the id currently points at.
    public var snapshot: String?
    /// Release date, `YYYY-MM-DD`.
    public var released: String?
    /// Training data cutoff, `YYYY-MM-DD` or `YYYY-MM`.
    public var knowledgeCutoff: String?
    /// Maximum prompt plus output tokens.
    public var contextWindow: Int?
    /// Maximum output tokens per call.
    public var maxOutputTokens: Int?
    /// Prices, USD per 1M tokens.
    public var pricing: Pricing?
    /// Input and output modalities.
    public var modalities: Modalities
    /// What the model can do.
    public var capabilities: Capabilities
    /// Chat Completions parameters the model accepts.
    public var supportedParameters: [String]
    /// Vector size, for embedding models.
    public var dimensions: Int?
    /// Where the model is offered.
    public var routes: [CatalogRoute]

    /// Chat or embedding.
    public enum Kind: String, Sendable, Codable {
        case chat
        case embedding
    }

    enum CodingKeys: String, CodingKey {
        case id, name, kind, snapshot, released, pricing, modalities, capabilities, dimensions, routes
        case ownedBy = "owned_by"
        case knowledgeCutoff = "knowledge_cutoff"
        case contextWindow = "context_window"
        case maxOutputTokens = "max_output_tokens"
        case supportedParameters = "supported_parameters"
    }

    /// Creates a catalog model.
    public init(
        id: String,
        name: String? = nil,
        ownedBy: String,
        kind: Kind = .chat,
        snapshot: String? = nil,
        released: String? = nil,
        knowledgeCutoff: String? = nil,
        contextWindow: Int? = nil,
        maxOutputTokens: Int? = nil,
        pricing: Pricing? = nil,
        modalities: Modalities = .text,
        capabilities: Capabilities = Capabilities(streaming: true),
        supportedParameters: [String] = [],
        dimensions: Int? = nil,
        routes: [CatalogRoute]
    ) {
        self.id = id
        self.name = name
        self.ownedBy = ownedBy
        self.kind = kind
        self.snapshot = snapshot
        self.released = released
        self.knowledgeCutoff = knowledgeCutoff
        self.contextWindow = contextWindow
        self.maxOutputTokens = maxOutputTokens
        self.pricing = pricing
        self.modalities = modalities
        self.capabilities = capabilities
        self.supportedParameters = supportedParameters
        self.dimensions = dimensions
        self.routes = routes
    }

    /// Decodes a model; `kind` defaults to chat and `modalities` to text in, text out.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.id = try c.decode(String.self, forKey: .id)
        self.name = try c.decodeIfPresent(String.self, forKey: .name)
        self.ownedBy = try c.decodeIfPresent(String.self, forKey: .ownedBy) ?? "unknown"
        self.kind = try c.decodeIfPresent(Kind.self, forKey: .kind) ?? .chat
        self.snapshot = try c.decodeIfPresent(String.self, forKey: .snapshot)
        self.released = try c.decodeIfPresent(String.self, forKey: .released)
        self.knowledgeCutoff = try c.decodeIfPresent(String.self, forKey: .knowledgeCutoff)
        self.contextWindow = try c.decodeIfPresent(Int.self, forKey: .contextWindow)
        self.maxOutputTokens = try c.decodeIfPresent(Int.self, forKey: .maxOutputTokens)
        self.pricing = try c.decodeIfPresent(Pricing.self, forKey: .pricing)
        self.modalities = try c.decodeIfPresent(Modalities.self, forKey: .modalities) ?? .text
        self.capabilities =
            try c.decodeIfPresent(Capabilities.self, forKey: .capabilities) ?? Capabilities(streaming: true)
        self.supportedParameters = try c.decodeIfPresent([String].self, forKey: .supportedParameters) ?? []
        self.dimensions = try c.decodeIfPresent(Int.self, forKey: .dimensions)
        self.routes = try c.decodeIfPresent([CatalogRoute].self, forKey: .routes) ?? []
    }
}

/// Input and output modalities (`text`, `image`, `audio`, `embedding`).
public struct Modalities: Sendable, Codable, Equatable {
    /// Accepted input kinds.
    public var input: [String]
    /// Produced output kinds.
    public var output: [String]

    /// Text in, text out.
    public static let text = Modalities(input: ["text"], output: ["text"])

    /// Creates modalities.
    public init(input: [String], output: [String]) {
        self.input = input
        self.output = output
    }
}

/// Where a catalog model is offered, with the fields that differ from the model's own.
public struct CatalogRoute: Sendable, Codable, Equatable {
    /// Provider name, such as `openai` or `groq`.
    public var provider: String
    /// The provider's own id for the model.
    public var model: String
    /// Overrides the model's context window.
    public var contextWindow: Int?
    /// Overrides the model's max output tokens.
    public var maxOutputTokens: Int?
    /// Overrides the model's prices.
    public var pricing: Pricing?
    /// Capability flags that differ on this route.
    public var capabilities: CapabilityOverrides?
    /// Overrides the supported parameters.
    public var supportedParameters: [String]?
    /// Overrides the modalities.
    public var modalities: Modalities?

    enum CodingKeys: String, CodingKey {
        case provider, model, pricing, capabilities, modalities
        case contextWindow = "context_window"
        case maxOutputTokens = "max_output_tokens"
        case supportedParameters = "supported_parameters"
    }

    /// Creates a route.
    public init(provider: String, model: String, pricing: Pricing? = nil) {
        self.provider = provider
        self.model = model
        self.pricing = pricing
    }
}
