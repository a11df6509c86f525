// SPDX-License-Identifier: Apache-2.0

/// What a call may use at most, reserved before it runs and replaced by the truth afterwards.
public struct CallEstimate: Sendable, Equatable {
    /// Prompt tokens, counted generously: a character in three (the routing estimate says four).
    public var promptTokens: Int
    /// Prompt tokens plus the output limit the request sets (a rate limit's reservation).
    public var tokens: Int
    /// The most the call can cost on any route it may take: prompt and the output limit (the request's,
    /// else the route's) at the dearest route's prices.
    public var costUSD: Double

    /// Output tokens assumed for a route whose limit the catalog does not know.
    public static let assumedRouteOutputTokens = 4_096

    /// Creates an estimate.
    public init(promptTokens: Int, tokens: Int, costUSD: Double) {
        self.promptTokens = promptTokens
        self.tokens = tokens
        self.costUSD = costUSD
    }

    /// What the call's request alone says: its prompt tokens (generously), the output limit it sets,
    /// and whether it asks for embeddings.
    private static func request(_ call: Call) -> (promptTokens: Int, requestedOutput: Int?, isEmbedding: Bool) {
        if let chat = call.chat {
            return (chat.requirements.estimatedPromptTokens * 4 / 3 + 16, chat.maxOutputTokens, false)
        }
        if let embeddings = call.embeddings {
            return (embeddings.characterCount / 3 + embeddings.inputs.count, 0, true)
        }
        return (call.body.count / 3, nil, false)
    }

    /// ``tokens`` of a call without its cost, which needs the model's routes.
    public static func tokens(_ call: Call) -> Int {
        let request = Self.request(call)
        return request.promptTokens.addingReportingOverflow(request.requestedOutput ?? 0).partialValue
    }

    /// The estimate for a validated call, over the routes of its model and of the model's fallbacks.
    public init(_ call: Call, models: ModelTable) {
        let (promptTokens, requestedOutput, isEmbedding) = Self.request(call)
        self.promptTokens = promptTokens
        self.tokens = Self.tokens(call)
        var cost = 0.0
        if let name = call.requestedModel, let model = models.resolve(name) {
            let fallbacks = model.fallbacks.compactMap { models.resolve($0)?.routes }.joined()
            for route in model.routes + fallbacks {
                guard let pricing = route.pricing else { continue }
                let output =
                    isEmbedding ? 0 : requestedOutput ?? route.maxOutputTokens ?? Self.assumedRouteOutputTokens
                let routeCost =
                    (Double(self.promptTokens) * pricing.input + Double(output) * pricing.output) / 1_000_000
                cost = max(cost, routeCost)
            }
        }
        self.costUSD = cost
    }
}
