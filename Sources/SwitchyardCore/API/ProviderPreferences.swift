// SPDX-License-Identifier: Apache-2.0

/// The request body's `provider` object, as OpenRouter accepts it: which of the model's providers
/// to use, in what order, sorted by what, and whether to fall back.
///
/// ```json
/// {"provider": {"order": ["openai"], "ignore": ["backup"], "sort": "latency", "allow_fallbacks": false}}
/// ```
public struct ProviderPreferences: Sendable, Equatable {
    /// A measured or priced order that replaces the model's strategy.
    public enum Sort: String, Sendable, CaseIterable {
        /// Cheapest estimated cost first.
        case price
        /// Highest median output tokens per second first.
        case throughput
        /// Lowest median time to first token first.
        case latency
        /// Highest share of valid tool calls first.
        case toolReliability = "tool_reliability"
    }

    /// Providers to try first, in this order.
    public var order: [String] = []
    /// Only these providers, if set.
    public var only: [String]?
    /// Never these providers.
    public var ignore: [String] = []
    /// The order to use instead of the strategy's.
    public var sort: Sort?
    /// When false, only the first route is tried: no other route, no fallback model.
    public var allowFallbacks = true

    /// The members this version reads; others are refused so a typo is not silently ignored.
    static let members = ["order", "only", "ignore", "sort", "allow_fallbacks"]

    /// Creates preferences.
    public init(
        order: [String] = [],
        only: [String]? = nil,
        ignore: [String] = [],
        sort: Sort? = nil,
        allowFallbacks: Bool = true
    ) {
        self.order = order
        self.only = only
        self.ignore = ignore
        self.sort = sort
        self.allowFallbacks = allowFallbacks
    }

    /// Reads the `provider` member of a request body; a 400 names any unknown member, value or type.
    init(parsing value: JSONValue) throws(GatewayError) {
        guard let object = value.object else {
            throw .invalidRequest("`provider` must be an object such as {\"order\": [\"openai\"]}.", param: "provider")
        }
        for name in object.keys.sorted() where !Self.members.contains(name) {
            throw .invalidRequest(
                "`provider.\(name)` is not a provider preference; known: \(Self.members.joined(separator: ", ")).",
                param: "provider.\(name)"
            )
        }
        func names(_ key: String) throws(GatewayError) -> [String]? {
            guard let value = object[key], value != .null else { return nil }
            guard let items = value.array, items.count <= 64, let names = Optional(items.compactMap(\.string)),
                names.count == items.count
            else {
                throw .invalidRequest(
                    "`provider.\(key)` must be a list of at most 64 provider names.",
                    param: "provider.\(key)"
                )
            }
            return names
        }
        self.order = try names("order") ?? []
        self.only = try names("only")
        self.ignore = try names("ignore") ?? []
        if let sort = object["sort"], sort != .null {
            guard let text = sort.string, let parsed = Sort(rawValue: text) else {
                throw .invalidRequest(
                    "`provider.sort` must be one of \(Sort.allCases.map(\.rawValue).joined(separator: ", ")).",
                    param: "provider.sort",
                    code: "invalid_value"
                )
            }
            self.sort = parsed
        }
        if let allow = object["allow_fallbacks"], allow != .null {
            guard let flag = allow.bool else {
                throw .invalidRequest(
                    "`provider.allow_fallbacks` must be a boolean.",
                    param: "provider.allow_fallbacks"
                )
            }
            self.allowFallbacks = flag
        }
    }
}
