// SPDX-License-Identifier: Apache-2.0

/// One rule of a `conditional` model: when `when` matches the request, `providers` names the routes to use.
///
/// - Configuration keys:
///   - `when` (object, required): any of `header` (map of header name → value), `user` (the request's
///     `user`, exact or `prefix*`) and `metadata` (map of the request's `metadata` keys → values); every
///     condition given must hold.
///   - `providers` (list, required): provider names of the model's routes, in the order to try them.
public struct RoutingRule: Sendable, Decodable, Equatable {
    /// Header values that must match exactly (names compared case-insensitively).
    public var headers: [String: String] = [:]
    /// `user` exactly, or a prefix when it ends in `*`.
    public var user: String?
    /// `metadata` members that must match exactly.
    public var metadata: [String: String] = [:]
    /// Providers whose routes the rule selects, in order.
    public var providers: [String]

    enum CodingKeys: String, CodingKey, CaseIterable { case when, providers }
    enum ConditionKeys: String, CodingKey, CaseIterable { case header, user, metadata }

    /// Creates a rule.
    public init(
        headers: [String: String] = [:],
        user: String? = nil,
        metadata: [String: String] = [:],
        providers: [String]
    ) {
        self.headers = headers
        self.user = user
        self.metadata = metadata
        self.providers = providers
    }

    /// Decodes a rule, rejecting unknown keys and empty conditions.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let when = try c.superDecoder(forKey: .when)
        try when.rejectUnknownKeys(ConditionKeys.self)
        let conditions = try when.container(keyedBy: ConditionKeys.self)
        let headers = try conditions.decodeIfPresent([String: String].self, forKey: .header) ?? [:]
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        self.user = try conditions.decodeIfPresent(String.self, forKey: .user)
        self.metadata = try conditions.decodeIfPresent([String: String].self, forKey: .metadata) ?? [:]
        guard !self.headers.isEmpty || self.user != nil || !self.metadata.isEmpty else {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "when"))` must state `header`, `user` or `metadata`"
            )
        }
        self.providers = try c.decode([String].self, forKey: .providers)
        guard !self.providers.isEmpty else {
            throw ConfigurationError("`\(configPath(decoder.codingPath, "providers"))` must name at least one provider")
        }
    }
}

/// Hedged requests: a second route is started when the first has not answered in time.
///
/// - Configuration keys:
///   - `after` (duration or `p95`, required): how long to wait for the first route's first token;
///     `p95` uses that route's measured 95th percentile time to first token (5 minutes), or 1s without data.
public struct HedgeConfiguration: Sendable, Decodable, Equatable {
    /// When the next route starts.
    public enum Delay: Sendable, Equatable {
        /// A fixed delay.
        case fixed(Duration)
        /// The first route's measured P95 time to first token.
        case measuredP95
    }

    /// When the next route starts.
    public var after: Delay

    enum CodingKeys: String, CodingKey, CaseIterable { case after }

    /// Creates a hedge policy.
    public init(after: Delay) { self.after = after }

    /// Decodes the policy, rejecting unknown keys.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if (try? c.decode(String.self, forKey: .after)) == "p95" {
            self.after = .measuredP95
        } else if let delay = try c.decodeDurationIfPresent(forKey: .after) {
            self.after = .fixed(delay)
        } else {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "after"))` is required: a duration such as 300ms, or p95"
            )
        }
    }
}

/// Shadow traffic: a share of a model's calls is repeated on a candidate model after the answer is sent.
///
/// - Configuration keys:
///   - `model` (string, required): the candidate's public name.
///   - `share` (number, required): the share of calls mirrored, from 0 to 1.
public struct ShadowConfiguration: Sendable, Decodable, Equatable {
    /// The candidate model.
    public var model: String
    /// Share of calls mirrored.
    public var share: Double

    enum CodingKeys: String, CodingKey, CaseIterable { case model, share }

    /// Creates a shadow policy.
    public init(model: String, share: Double) {
        self.model = model
        self.share = share
    }

    /// Decodes the policy, rejecting unknown keys and shares outside 0…1.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.model = try c.decode(String.self, forKey: .model)
        guard let share = try c.decodeIfPresent(Double.self, forKey: .share, within: 0...1) else {
            throw ConfigurationError("`\(configPath(decoder.codingPath, "share"))` is required: a number from 0 to 1")
        }
        self.share = share
    }
}

/// Per-route cooldown (a circuit breaker): a route that failed `failures` times within `window`, and in
/// at least `share` of its calls there, is skipped for `duration`; then one call probes it.
///
/// - Configuration keys (all optional; `cooldown: off` disables it):
///   - `failures` (integer, default 5), `window` (duration, default 30s), `duration` (duration, default 60s),
///   - `share` (number, default 0.2): so a busy route with rare errors is not cooled down.
public struct CooldownPolicy: Sendable, Decodable, Equatable {
    /// Failures within `window` that open the breaker; 0 disables it.
    public var failures: Int
    /// The window failures are counted over.
    public var window: Duration
    /// How long the route is skipped.
    public var duration: Duration
    /// Smallest share of failed calls within `window` that opens the breaker.
    public var share: Double

    enum CodingKeys: String, CodingKey, CaseIterable { case failures, window, duration, share }

    /// Creates a policy.
    public init(
        failures: Int = 5,
        window: Duration = .seconds(30),
        duration: Duration = .seconds(60),
        share: Double = 0.2
    ) {
        self.failures = failures
        self.window = window
        self.duration = duration
        self.share = share
    }

    /// The gateway's default.
    public static let defaults = CooldownPolicy()
    /// No cooldown.
    public static let off = CooldownPolicy(failures: 0)

    /// Whether the breaker is on.
    public var isEnabled: Bool { self.failures > 0 }

    /// Decodes `off` or the policy's keys.
    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            guard text == "off" else {
                throw ConfigurationError(
                    "`\(configPath(decoder.codingPath))` must be `off` or an object with failures, window, duration"
                )
            }
            self = .off
            return
        }
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Self.defaults
        self.failures = try c.decodeIfPresent(Int.self, forKey: .failures, within: 0...1_000_000) ?? defaults.failures
        self.window = try c.decodeDurationIfPresent(forKey: .window) ?? defaults.window
        self.duration = try c.decodeDurationIfPresent(forKey: .duration) ?? defaults.duration
        self.share = try c.decodeIfPresent(Double.self, forKey: .share, within: 0...1) ?? defaults.share
    }
}
