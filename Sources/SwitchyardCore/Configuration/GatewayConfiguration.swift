// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The gateway's configuration: `switchyard.yaml` (SPEC §4) or the embedded default.
///
/// - Configuration keys:
///   - `listen` (string, optional, default `127.0.0.1:4000`): address and port to listen on.
///   - `master_key` (string, optional): once set, every call needs it or a configured key.
///   - `store` (string, optional, default `sqlite:switchyard.db`): `sqlite:PATH` or `memory`.
///   - `providers` (map, optional): provider name → ``ProviderConfiguration``.
///   - `models` (map, optional): public model name → ``ModelConfiguration``.
///   - `catalog` (object, optional): ``CatalogConfiguration``.
///   - `cache` (object, optional): ``CacheConfiguration``.
///   - `keys` (list, optional): ``KeyConfiguration``.
///   - `server` (object, optional): ``ServerLimits``.
///   - `retries` (object, optional): ``RetryConfiguration``.
///   - `request_log` (object, optional): ``RequestLogConfiguration``.
public struct GatewayConfiguration: Sendable, Decodable {
    /// Host to listen on.
    public var host: String = "127.0.0.1"
    /// Port to listen on.
    public var port: Int = 4000
    /// The master key, if any.
    public var masterKey: String?
    /// Where logs and state are stored.
    public var store: StoreLocation = .sqlite(path: "switchyard.db")
    /// Providers by name.
    public var providers: [String: ProviderConfiguration] = [:]
    /// Explicit models by public name; catalog models need no entry.
    public var models: [String: ModelConfiguration] = [:]
    /// Catalog extensions.
    public var catalog = CatalogConfiguration()
    /// Response cache settings.
    public var cache = CacheConfiguration()
    /// Client keys defined in the file.
    public var keys: [KeyConfiguration] = []
    /// Limits that protect the server.
    public var server = ServerLimits()
    /// Retry policy for upstream calls.
    public var retries = RetryConfiguration()
    /// Request log settings.
    public var requestLog = RequestLogConfiguration()
    /// Where budget alerts go.
    public var alerts = AlertConfiguration()
    /// Seals teams' provider keys at rest (`credential_key`, or `SWITCHYARD_CREDENTIAL_KEY`).
    public var credentialKey: CredentialSealer?
    /// An OIDC issuer whose signed tokens are accepted as keys.
    public var oidc: OIDCConfiguration?
    /// Trace export; off unless an endpoint is set.
    public var tracing = TracingConfiguration()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case listen, store, providers, models, catalog, cache, keys, server, retries, alerts, oidc, tracing
        case masterKey = "master_key"
        case requestLog = "request_log"
        case credentialKey = "credential_key"
    }

    /// A configuration with every default: no providers, no models.
    public init() {}

    /// Decodes the YAML document, rejecting unknown keys.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let listen = try c.decodeIfPresent(String.self, forKey: .listen) {
            (self.host, self.port) = try Self.parseListen(listen)
        }
        if let key = try c.decodeIfPresent(String.self, forKey: .masterKey), !key.isEmpty { self.masterKey = key }
        if let store = try c.decodeIfPresent(String.self, forKey: .store) {
            self.store = try StoreLocation(parsing: store)
        }
        self.providers = try c.decodeIfPresent([String: ProviderConfiguration].self, forKey: .providers) ?? [:]
        self.models = try c.decodeIfPresent([String: ModelConfiguration].self, forKey: .models) ?? [:]
        self.catalog = try c.decodeIfPresent(CatalogConfiguration.self, forKey: .catalog) ?? .init()
        self.cache = try c.decodeIfPresent(CacheConfiguration.self, forKey: .cache) ?? .init()
        self.keys = try c.decodeIfPresent([KeyConfiguration].self, forKey: .keys) ?? []
        self.server = try c.decodeIfPresent(ServerLimits.self, forKey: .server) ?? .init()
        self.retries = try c.decodeIfPresent(RetryConfiguration.self, forKey: .retries) ?? .init()
        self.requestLog = try c.decodeIfPresent(RequestLogConfiguration.self, forKey: .requestLog) ?? .init()
        self.alerts = try c.decodeIfPresent(AlertConfiguration.self, forKey: .alerts) ?? .init()
        self.oidc = try c.decodeIfPresent(OIDCConfiguration.self, forKey: .oidc)
        self.tracing = try c.decodeIfPresent(TracingConfiguration.self, forKey: .tracing) ?? .init()
        if let key = try c.decodeIfPresent(String.self, forKey: .credentialKey), !key.isEmpty {
            self.credentialKey = try Self.credentialSealer(key, source: "`credential_key`")
        }
    }

    /// Takes `SWITCHYARD_CREDENTIAL_KEY` from `environment` when `credential_key` is not set.
    public mutating func applyCredentialKey(from environment: [String: String]) throws {
        guard self.credentialKey == nil, let key = environment["SWITCHYARD_CREDENTIAL_KEY"], !key.isEmpty else {
            return
        }
        self.credentialKey = try Self.credentialSealer(key, source: "SWITCHYARD_CREDENTIAL_KEY")
    }

    /// The sealer for a credential key, or an error saying how to make one.
    static func credentialSealer(_ text: String, source: String) throws -> CredentialSealer {
        guard let sealer = CredentialSealer(base64: text) else {
            throw ConfigurationError(
                "\(source) must be 32 random bytes in base64 (44 characters; make one with `openssl rand -base64 32`)"
            )
        }
        return sealer
    }

    /// Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT`.
    static func parseListen(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ConfigurationError("`listen` must be HOST:PORT such as 127.0.0.1:4000; got `\(text)`")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }
}

/// Where the gateway keeps its request log and state.
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    /// A SQLite file.
    case sqlite(path: String)
    /// A PostgreSQL database, shared by every instance that names it.
    case postgres(PostgresLocation)
    /// Nothing persisted: for tests and throwaway runs.
    case memory

    /// Parses `sqlite:PATH`, `sqlite::memory:`, `memory` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=...]`.
    public init(parsing text: String) throws {
        if text == "memory" || text == "sqlite::memory:" {
            self = .memory
        } else if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw ConfigurationError("`store` needs a file path: `sqlite:switchyard.db`") }
            self = .sqlite(path: path)
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            self = .postgres(try PostgresLocation(parsing: text))
        } else {
            throw ConfigurationError("`store` must be `sqlite:PATH`, `postgres://...` or `memory`; got `\(text)`")
        }
    }

    /// `sqlite:PATH`, the PostgreSQL URL without its password, or `memory`.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let location): location.description
        case .memory: "memory"
        }
    }
}

/// A PostgreSQL database to connect to, read from a `postgres://` URL.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// Server host.
    public var host: String
    /// Server port.
    public var port: Int
    /// User name.
    public var username: String
    /// Password, if any (never printed).
    public var password: String?
    /// Database name.
    public var database: String
    /// `disable`, `prefer` or `require` (`sslmode` in the URL; default `prefer`).
    public var tls: TLSMode

    /// Whether and how to use TLS.
    public enum TLSMode: String, Sendable, Equatable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it.
        case prefer
        /// TLS or no connection.
        case require
    }

    /// Parses the URL; a `ConfigurationError` names what is wrong, never the password.
    public init(parsing text: String) throws {
        guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
            throw ConfigurationError(
                "`store` must be a URL such as postgres://switchyard:PASSWORD@127.0.0.1:5432/switchyard"
            )
        }
        self.host = host
        self.port = components.port ?? 5432
        guard (1...65535).contains(self.port) else { throw ConfigurationError("`store`: the port must be 1 to 65535") }
        self.username = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        self.password = components.password.flatMap { $0.removingPercentEncoding }
        let database = String(components.path.drop(while: { $0 == "/" }))
        self.database = database.isEmpty ? self.username : database
        self.tls = .prefer
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else {
                throw ConfigurationError("`store`: unknown URL parameter `\(item.name)`; supported: sslmode")
            }
            guard let mode = TLSMode(rawValue: item.value ?? "") else {
                throw ConfigurationError("`store`: `sslmode` must be disable, prefer or require")
            }
            self.tls = mode
        }
    }

    /// The URL with the password replaced by `***`.
    public var description: String {
        let credentials = self.password == nil ? self.username : "\(self.username):***"
        return "postgres://\(credentials)@\(self.host):\(self.port)/\(self.database)"
    }
}

/// One upstream provider.
///
/// - Configuration keys:
///   - `type` (string, required): a registered ``ProviderType`` (`openai`, `simulator`, ...).
///   - `base_url` (string, optional): API root; each type documents its default and whether it includes `/v1`.
///   - `api_key` (string, optional): the provider key, sent the way the type's API expects.
///   - `api_keys` (list, optional): several keys instead of `api_key`; a 429 moves a call to the next key
///     before it moves to the next route.
///   - `headers` (map, optional): extra headers sent upstream (for example `OpenAI-Organization`).
///   - `proxy` (string, optional): `http://[user:password@]host:port` to tunnel through (`CONNECT`),
///     or `none`; unset follows `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`.
///   - the type's own keys (``ProviderType/settingKeys``), decoded into ``settings``.
public struct ProviderConfiguration: Sendable, Decodable {
    /// The provider dialect (`type`).
    public var type: String
    /// API root.
    public var baseURL: String?
    /// Provider key (the first of ``apiKeys`` when several are given).
    public var apiKey: String?
    /// Every provider key, in rotation order; empty when `api_keys` is not given.
    public var apiKeys: [String] = []
    /// Extra headers.
    public var headers: [String: String] = [:]
    /// `none`, or the proxy URL upstream calls tunnel through; `nil` follows the environment.
    public var proxy: String?
    /// What the type read from its own keys.
    public var settings: any ProviderSettings

    /// Keys every provider section may have, whatever its type.
    public static let commonKeys = ["type", "base_url", "api_key", "api_keys", "headers", "proxy"]

    enum CodingKeys: String, CodingKey {
        case type, headers, proxy
        case baseURL = "base_url"
        case apiKey = "api_key"
        case apiKeys = "api_keys"
    }

    /// Creates a provider.
    public init(
        type: String,
        baseURL: String? = nil,
        apiKey: String? = nil,
        settings: any ProviderSettings = NoProviderSettings()
    ) {
        self.type = type
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.settings = settings
    }

    /// Decodes a provider, rejecting unknown keys and types; the type decodes its own keys.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.type = try c.decode(String.self, forKey: .type)
        guard let types = decoder.userInfo[ProviderTypes.userInfoKey] as? ProviderTypes,
            let providerType = types.named(self.type)
        else {
            let known = (decoder.userInfo[ProviderTypes.userInfoKey] as? ProviderTypes)?.names ?? []
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "type"))` is `\(self.type)`, which is not a provider type; "
                    + "supported: \(known.joined(separator: ", "))"
            )
        }
        let allowed = Set(Self.commonKeys + providerType.settingKeys)
        // A key of another type is a likelier mistake than a typo: say which type it belongs to.
        for key in try decoder.container(keyedBy: AnyCodingKey.self).allKeys where !allowed.contains(key.stringValue) {
            if let owner = types.all.first(where: { $0.settingKeys.contains(key.stringValue) }) {
                throw ConfigurationError(
                    "`\(configPath(decoder.codingPath, key.stringValue))` applies to `type: \(owner.name)` only"
                )
            }
        }
        try decoder.rejectUnknownKeys(allowed)
        self.baseURL = try c.decodeIfPresent(String.self, forKey: .baseURL)
        if let url = self.baseURL, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "base_url"))` must start with http:// or https://"
            )
        }
        self.apiKey = try c.decodeIfPresent(String.self, forKey: .apiKey)
        self.apiKeys = try c.decodeIfPresent([String].self, forKey: .apiKeys) ?? []
        if !self.apiKeys.isEmpty {
            guard self.apiKey == nil else {
                throw ConfigurationError(
                    "`\(configPath(decoder.codingPath))` has both `api_key` and `api_keys`: list every key under `api_keys`"
                )
            }
            guard self.apiKeys.count <= 64, !self.apiKeys.contains(where: \.isEmpty) else {
                throw ConfigurationError(
                    "`\(configPath(decoder.codingPath, "api_keys"))` must list 1 to 64 keys, none of them empty "
                        + "(an unset ${VAR} leaves an empty one)"
                )
            }
            self.apiKey = self.apiKeys[0]
        }
        self.headers = try c.decodeIfPresent([String: String].self, forKey: .headers) ?? [:]
        self.proxy = try c.decodeIfPresent(String.self, forKey: .proxy)
        if let proxy = self.proxy, proxy != "none", !proxy.hasPrefix("http://") {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "proxy"))` must be `none` or an http:// proxy URL such as "
                    + "http://127.0.0.1:3128 (https:// proxies are not supported)"
            )
        }
        self.settings = try providerType.decodeSettings(from: decoder)
    }
}

/// One explicitly configured model.
///
/// - Configuration keys:
///   - `strategy` (string, optional, default `fallback`): how routes are ordered, one of ``RoutingStrategies/names``.
///   - `routes` (list, required): ``RouteConfiguration`` in configured order.
///   - `rules` (list, `conditional` only): ``RoutingRule``s; the first that matches picks the routes.
///   - `timeouts` (object, optional): ``Timeouts`` for every route.
///   - `fallbacks` (list, optional): other public models tried after every route failed.
///   - `hedge` (object, optional): ``HedgeConfiguration``; off when absent.
///   - `shadow` (object, optional): ``ShadowConfiguration``; off when absent.
///   - `cooldown` (object or `off`, optional): ``CooldownPolicy`` for every route; on by default.
public struct ModelConfiguration: Sendable, Decodable, Equatable {
    /// Route ordering strategy.
    public var strategy: String = "fallback"
    /// Routes in configured order.
    public var routes: [RouteConfiguration]
    /// Rules of a `conditional` model.
    public var rules: [RoutingRule] = []
    /// Timeouts for every route.
    public var timeouts = Timeouts()
    /// Models tried after this one's routes all failed.
    public var fallbacks: [String] = []
    /// Hedged requests, if on.
    public var hedge: HedgeConfiguration?
    /// Shadow traffic, if on.
    public var shadow: ShadowConfiguration?
    /// Cooldown of the model's routes.
    public var cooldown = CooldownPolicy.defaults
    /// The model's own cache mode and lifetime, over the `cache` section's.
    public var cache: ModelCacheConfiguration?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case strategy, routes, rules, timeouts, fallbacks, hedge, shadow, cooldown, cache
    }

    /// Creates a model.
    public init(
        routes: [RouteConfiguration],
        fallbacks: [String] = [],
        strategy: String = "fallback",
        rules: [RoutingRule] = []
    ) {
        self.routes = routes
        self.fallbacks = fallbacks
        self.strategy = strategy
        self.rules = rules
    }

    /// Decodes a model, rejecting unknown keys and strategies.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.strategy = try c.decodeIfPresent(String.self, forKey: .strategy) ?? "fallback"
        guard RoutingStrategies.named(self.strategy) != nil else {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "strategy"))` is `\(self.strategy)`; strategies: "
                    + RoutingStrategies.names.joined(separator: ", ")
            )
        }
        self.routes = try c.decode([RouteConfiguration].self, forKey: .routes)
        guard !self.routes.isEmpty else {
            throw ConfigurationError("`\(configPath(decoder.codingPath, "routes"))` must list at least one route")
        }
        self.rules = try c.decodeIfPresent([RoutingRule].self, forKey: .rules) ?? []
        if !self.rules.isEmpty, self.strategy != ConditionalStrategy.name {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "rules"))` applies to `strategy: conditional` only"
            )
        }
        self.timeouts = try c.decodeIfPresent(Timeouts.self, forKey: .timeouts) ?? .init()
        self.fallbacks = try c.decodeIfPresent([String].self, forKey: .fallbacks) ?? []
        self.hedge = try c.decodeIfPresent(HedgeConfiguration.self, forKey: .hedge)
        self.shadow = try c.decodeIfPresent(ShadowConfiguration.self, forKey: .shadow)
        self.cooldown = try c.decodeIfPresent(CooldownPolicy.self, forKey: .cooldown) ?? .defaults
        self.cache = try c.decodeIfPresent(ModelCacheConfiguration.self, forKey: .cache)
    }
}

/// One route of an explicitly configured model; unset facts come from the catalog.
public struct RouteConfiguration: Sendable, Decodable, Equatable {
    /// Provider name from `providers`.
    public var provider: String
    /// The provider's model id.
    public var model: String
    /// Prices overriding the catalog.
    public var pricing: Pricing?
    /// Capability flags overriding the catalog.
    public var capabilities: CapabilityOverrides?
    /// Context window overriding the catalog.
    public var contextWindow: Int?
    /// Max output tokens overriding the catalog.
    public var maxOutputTokens: Int?
    /// Timeouts overriding the model's.
    public var timeouts: Timeouts?
    /// Never store bodies of calls on this route.
    public var zeroDataRetention = false
    /// Share of traffic under `strategy: weighted`, relative to the other routes' weights.
    public var weight = 1.0
    /// Requests and tokens per minute this route may take, across every instance.
    public var limits: RateLimits?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case provider, model, pricing, capabilities, timeouts, weight, limits
        case contextWindow = "context_window"
        case maxOutputTokens = "max_output_tokens"
        case zeroDataRetention = "zero_data_retention"
    }

    /// Largest context window or output limit a route may state.
    static let tokenLimit = 100_000_000
    /// Highest price a route may state, USD per 1M tokens.
    static let priceLimit = 100_000.0

    /// Creates a route.
    public init(
        provider: String,
        model: String,
        pricing: Pricing? = nil,
        capabilities: CapabilityOverrides? = nil,
        weight: Double = 1
    ) {
        self.provider = provider
        self.model = model
        self.pricing = pricing
        self.capabilities = capabilities
        self.weight = weight
    }

    /// Decodes a route, rejecting unknown keys.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.provider = try c.decode(String.self, forKey: .provider)
        self.model = try c.decode(String.self, forKey: .model)
        self.pricing = try c.decodeIfPresent(Pricing.self, forKey: .pricing)
        if let pricing = self.pricing {
            for (name, price) in [
                ("input", pricing.input), ("cached_input", pricing.cachedInput), ("output", pricing.output),
            ]
            where price.map({ !(0...Self.priceLimit).contains($0) }) ?? false {
                throw ConfigurationError(
                    "`\(configPath(decoder.codingPath, "pricing.\(name)"))` must be between 0 and \(Int(Self.priceLimit)) "
                        + "USD per 1M tokens"
                )
            }
        }
        self.capabilities = try c.decodeIfPresent(CapabilityOverrides.self, forKey: .capabilities)
        self.contextWindow = try c.decodeIfPresent(Int.self, forKey: .contextWindow, within: 1...Self.tokenLimit)
        self.maxOutputTokens = try c.decodeIfPresent(Int.self, forKey: .maxOutputTokens, within: 1...Self.tokenLimit)
        self.timeouts = try c.decodeIfPresent(Timeouts.self, forKey: .timeouts)
        self.zeroDataRetention = try c.decodeIfPresent(Bool.self, forKey: .zeroDataRetention) ?? false
        self.weight = try c.decodeIfPresent(Double.self, forKey: .weight, within: 0...1_000_000) ?? 1
        self.limits = try RateLimits.decode(c, .limits, path: decoder.codingPath)
    }
}

/// Upstream timeouts.
///
/// - Configuration keys (durations, all optional):
///   - `connect` (default 5s): TCP and TLS connect.
///   - `first_token` (default 60s): until the response head arrives.
///   - `idle` (default 60s): longest gap between streamed chunks.
///   - `total` (default 10m): the whole call, all attempts included.
public struct Timeouts: Sendable, Decodable, Equatable {
    /// Connect timeout.
    public var connect: Duration?
    /// Time to the response head.
    public var firstToken: Duration?
    /// Longest gap between chunks.
    public var idle: Duration?
    /// Whole call.
    public var total: Duration?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case connect, idle, total
        case firstToken = "first_token"
    }

    /// Creates timeouts; `nil` means inherit.
    public init(connect: Duration? = nil, firstToken: Duration? = nil, idle: Duration? = nil, total: Duration? = nil) {
        self.connect = connect
        self.firstToken = firstToken
        self.idle = idle
        self.total = total
    }

    /// Decodes timeouts, rejecting unknown keys.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.connect = try c.decodeDurationIfPresent(forKey: .connect)
        self.firstToken = try c.decodeDurationIfPresent(forKey: .firstToken)
        self.idle = try c.decodeDurationIfPresent(forKey: .idle)
        self.total = try c.decodeDurationIfPresent(forKey: .total)
    }

    /// These timeouts with unset ones taken from `fallback`.
    public func inheriting(_ fallback: Timeouts) -> Timeouts {
        Timeouts(
            connect: self.connect ?? fallback.connect,
            firstToken: self.firstToken ?? fallback.firstToken,
            idle: self.idle ?? fallback.idle,
            total: self.total ?? fallback.total
        )
    }

    /// The gateway's defaults.
    public static let defaults = Timeouts(
        connect: .seconds(5),
        firstToken: .seconds(60),
        idle: .seconds(60),
        total: .seconds(600)
    )
}

/// Catalog extensions.
///
/// - Configuration keys:
///   - `import` (string, optional): a LiteLLM price-map JSON file whose models and prices are added.
public struct CatalogConfiguration: Sendable, Decodable, Equatable {
    /// Path of a LiteLLM price map.
    public var importPath: String?

    enum CodingKeys: String, CodingKey, CaseIterable { case importPath = "import" }

    /// No extensions.
    public init(importPath: String? = nil) { self.importPath = importPath }

    /// Decodes the section, rejecting unknown keys.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        self.importPath = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(
            String.self,
            forKey: .importPath
        )
    }
}

extension RateLimits {
    /// `{rpm, tpm}` at `key` of a configuration section, if present; errors name the path.
    static func decode<Key: CodingKey>(
        _ container: KeyedDecodingContainer<Key>,
        _ key: Key,
        path: [any CodingKey]
    ) throws -> RateLimits? {
        guard let wire = try container.decodeIfPresent(Wire.self, forKey: key) else { return nil }
        do {
            return try wire.limits()
        } catch {
            throw ConfigurationError("`\(configPath(path, key.stringValue))`: \(error.message)")
        }
    }

    private struct Wire: Decodable {
        var rpm: Int?
        var tpm: Int?
        var providers: [String: Wire]?

        enum CodingKeys: String, CodingKey, CaseIterable { case rpm, tpm, providers }

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.rpm = try c.decodeIfPresent(Int.self, forKey: .rpm)
            self.tpm = try c.decodeIfPresent(Int.self, forKey: .tpm)
            self.providers = try c.decodeIfPresent([String: Wire].self, forKey: .providers)
        }

        func limits() throws(PolicyError) -> RateLimits {
            var providers: [String: RateLimits]?
            if let wires = self.providers {
                providers = [:]
                for (name, wire) in wires {
                    guard wire.providers == nil else {
                        throw PolicyError("`providers.\(name)`: limits per provider do not nest", member: "providers")
                    }
                    providers?[name] = try wire.limits()
                }
            }
            return try RateLimits(rpm: self.rpm, tpm: self.tpm, providers: providers)
        }
    }
}

/// An OIDC issuer whose signed JWTs are accepted as bearer keys, their claims mapped to a team and a role.
///
/// - Configuration keys:
///   - `issuer` (string, required): the `iss` every token must carry; an `https` URL (`http` only on loopback).
///   - `audience` (string, required): a token's `aud` must include it, so tokens the issuer mints for
///     other services are refused.
///   - `required_claims` (map, optional): claim name to the values accepted (a string or a list), such
///     as `{repository_owner: [acme]}`: a token without one of them is refused. An issuer that serves
///     many tenants (GitHub Actions, Google) needs this.
///   - `jwks_url` (string, optional): the key set; discovered from
///     `ISSUER/.well-known/openid-configuration` when absent.
///   - `team_claim` (string, optional, default `team`): the claim naming the caller's team (a string,
///     or the first string of a list).
///   - `role_claim` (string, optional, default `role`): the claim naming `client`, `viewer` or `admin`;
///     absent means `client`, anything else is refused.
///   - `name_claim` (string, optional, default `sub`): shown in logs as `oidc:NAME`.
///   - `refresh` (duration, optional, default 10m): how often the key set is fetched again.
///   - `client_id` (string, optional): the console's client at the issuer; with it the sign-in page
///     offers "Sign in with" the issuer (authorization code flow with PKCE).
///   - `client_secret` (string, optional): sent to the token endpoint, for confidential clients.
///   - `redirect_url` (string, optional): the callback registered at the issuer; by default
///     `http(s)://HOST/login/oidc/callback` of the sign-in request.
public struct OIDCConfiguration: Sendable, Decodable, Equatable {
    /// The required `iss`.
    public var issuer: String
    /// The required audience.
    public var audience: String
    /// Claims a token must carry, each with one of the listed values.
    public var requiredClaims: [String: [String]] = [:]
    /// Where the key set is, if not discovered.
    public var jwksURL: String?
    /// Claim names.
    public var teamClaim = "team"
    /// The claim naming the role.
    public var roleClaim = "role"
    /// The claim naming the caller in logs.
    public var nameClaim = "sub"
    /// Key set refresh interval.
    public var refresh = Duration.seconds(600)
    /// The console's client id at the issuer, for signing in through it.
    public var clientID: String?
    /// The console client's secret, if the issuer wants one.
    public var clientSecret: String?
    /// The sign-in callback registered at the issuer.
    public var redirectURL: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case issuer, audience, refresh
        case clientID = "client_id"
        case clientSecret = "client_secret"
        case redirectURL = "redirect_url"
        case jwksURL = "jwks_url"
        case requiredClaims = "required_claims"
        case teamClaim = "team_claim"
        case roleClaim = "role_claim"
        case nameClaim = "name_claim"
    }

    /// An issuer with default claim names.
    public init(issuer: String, audience: String, jwksURL: String? = nil) {
        self.issuer = issuer
        self.audience = audience
        self.jwksURL = jwksURL
    }

    /// Decodes the section, checking the URLs.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.issuer = try c.decode(String.self, forKey: .issuer)
        guard let audience = try c.decodeIfPresent(String.self, forKey: .audience), !audience.isEmpty else {
            throw ConfigurationError(
                "`oidc.audience` is required: the audience the issuer puts in tokens meant for this gateway "
                    + "(without it, a token the issuer made for any other service would be accepted)"
            )
        }
        self.audience = audience
        if let claims = try c.decodeIfPresent([String: StringOrList].self, forKey: .requiredClaims) {
            guard claims.count <= 16, claims.allSatisfy({ !$0.key.isEmpty && !$0.value.values.isEmpty }) else {
                throw ConfigurationError(
                    "`oidc.required_claims` maps at most 16 claim names to a value or a non-empty list of values"
                )
            }
            self.requiredClaims = claims.mapValues(\.values)
        }
        self.jwksURL = try c.decodeIfPresent(String.self, forKey: .jwksURL)
        for (name, url) in [("issuer", Optional(self.issuer)), ("jwks_url", self.jwksURL)] {
            guard let url else { continue }
            guard Self.isAcceptable(url) else {
                throw ConfigurationError(
                    "`oidc.\(name)` must be an https URL (http only for 127.0.0.1 or localhost); got `\(url.prefix(200))`"
                )
            }
        }
        for (key, keyPath) in [
            (CodingKeys.teamClaim, \OIDCConfiguration.teamClaim), (.roleClaim, \.roleClaim), (.nameClaim, \.nameClaim),
        ] {
            if let name = try c.decodeIfPresent(String.self, forKey: key) {
                guard !name.isEmpty, name.count <= 100 else {
                    throw ConfigurationError("`oidc.\(key.stringValue)` must be a claim name of 1 to 100 characters")
                }
                self[keyPath: keyPath] = name
            }
        }
        if let refresh = try c.decodeIfPresent(ConfigDuration.self, forKey: .refresh) {
            guard refresh.duration >= .seconds(10) else {
                throw ConfigurationError("`oidc.refresh` must be at least 10s")
            }
            self.refresh = refresh.duration
        }
        for (key, keyPath) in [
            (CodingKeys.clientID, \OIDCConfiguration.clientID), (.clientSecret, \.clientSecret),
            (.redirectURL, \.redirectURL),
        ] {
            guard let value = try c.decodeIfPresent(String.self, forKey: key), !value.isEmpty else { continue }
            guard value.utf8.count <= 2048 else {
                throw ConfigurationError("`oidc.\(key.stringValue)` must be at most 2048 bytes")
            }
            self[keyPath: keyPath] = value
        }
        if let url = self.redirectURL,
            !(url.hasPrefix("https://") || url.hasPrefix("http://")) || URL(string: url)?.host == nil
        {
            throw ConfigurationError(
                "`oidc.redirect_url` must be the http(s) URL of `/login/oidc/callback` on this gateway; got `\(url.prefix(200))`"
            )
        }
    }

    /// A string or a list of strings in the configuration.
    struct StringOrList: Decodable {
        var values: [String]

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) {
                self.values = [one]
            } else {
                self.values = try container.decode([String].self)
            }
        }
    }

    /// `https://…`, or `http://` to a loopback host.
    public static func isAcceptable(_ text: String) -> Bool {
        guard let url = URL(string: text), let host = url.host, let scheme = url.scheme?.lowercased() else {
            return false
        }
        return scheme == "https" || (scheme == "http" && ["127.0.0.1", "localhost", "::1"].contains(host.lowercased()))
    }
}

/// Budget alerts: a webhook called once per period when a key or team crosses a share of its budget.
///
/// - Configuration keys:
///   - `webhook` (string, optional): an `http` or `https` URL that receives a JSON `POST` per alert.
///   - `thresholds` (list, optional, default `[0.5, 0.8, 0.95, 1.0]`): shares of the budget, each above
///     0 and at most 1.
///   - `headers` (map, optional): extra headers for the webhook, such as an authorization token.
public struct AlertConfiguration: Sendable, Decodable, Equatable {
    /// Where alerts are posted; none when `nil`.
    public var webhook: String?
    /// Shares of a budget that raise an alert, ascending.
    public var thresholds: [Double] = [0.5, 0.8, 0.95, 1.0]
    /// Extra webhook headers.
    public var headers: [String: String] = [:]

    enum CodingKeys: String, CodingKey, CaseIterable { case webhook, thresholds, headers }

    /// No alerts.
    public init() {}

    /// Decodes the section, checking the URL and the thresholds.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let webhook = try c.decodeIfPresent(String.self, forKey: .webhook), !webhook.isEmpty {
            guard webhook.hasPrefix("http://") || webhook.hasPrefix("https://"), URL(string: webhook)?.host != nil
            else {
                throw ConfigurationError("`alerts.webhook` must be an http or https URL; got `\(webhook.prefix(200))`")
            }
            self.webhook = webhook
        }
        if let thresholds = try c.decodeIfPresent([Double].self, forKey: .thresholds) {
            guard !thresholds.isEmpty, thresholds.count <= 16, thresholds.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
                throw ConfigurationError(
                    "`alerts.thresholds` must list 1 to 16 shares of a budget, each above 0 and at most 1, such as [0.5, 0.8, 1]"
                )
            }
            self.thresholds = Set(thresholds).sorted()
        }
        self.headers = try c.decodeIfPresent([String: String].self, forKey: .headers) ?? [:]
    }
}

/// A client key defined in the configuration file.
///
/// - Configuration keys:
///   - `name` (string, required): shown in logs instead of the key.
///   - `key` (string, required): the secret clients send as `Authorization: Bearer`.
///   - `team` (string, optional): the team whose budget and limits the key also draws from.
///   - `models` (list, optional): allowed public models; all when absent.
///   - `budget` (object, optional): `{usd, period}` with period daily, weekly, monthly or total.
///   - `limits` (object, optional): `{rpm, tpm}`.
///   - `zero_data_retention` (bool, optional, default false): never store request or response bodies.
public struct KeyConfiguration: Sendable, Decodable, Equatable {
    /// Display name.
    public var name: String
    /// The secret.
    public var key: String
    /// The key's team, if any.
    public var team: String?
    /// Allowed models; `nil` allows all.
    public var models: [String]?
    /// The key's own budget and limits.
    public var policy = SpendPolicy()
    /// Whether bodies are kept out of the request log.
    public var zeroDataRetention = false

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, key, team, models, budget, limits
        case zeroDataRetention = "zero_data_retention"
    }

    /// Creates a key.
    public init(
        name: String,
        key: String,
        team: String? = nil,
        models: [String]? = nil,
        policy: SpendPolicy = SpendPolicy(),
        zeroDataRetention: Bool = false
    ) {
        self.name = name
        self.key = key
        self.team = team
        self.models = models
        self.policy = policy
        self.zeroDataRetention = zeroDataRetention
    }

    private struct BudgetWire: Decodable {
        var usd: Double
        var period: String?

        enum CodingKeys: String, CodingKey, CaseIterable { case usd, period }

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.usd = try c.decode(Double.self, forKey: .usd)
            self.period = try c.decodeIfPresent(String.self, forKey: .period)
        }
    }

    /// Decodes a key.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.name = try c.decode(String.self, forKey: .name)
        self.key = try c.decode(String.self, forKey: .key)
        guard !self.key.isEmpty else {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "key"))` is empty (is its environment variable set?)"
            )
        }
        self.team = try c.decodeIfPresent(String.self, forKey: .team)
        self.models = try c.decodeIfPresent([String].self, forKey: .models)
        self.zeroDataRetention = try c.decodeIfPresent(Bool.self, forKey: .zeroDataRetention) ?? false
        do {
            if let budget = try c.decodeIfPresent(BudgetWire.self, forKey: .budget) {
                self.policy.budget = try Budget(usd: budget.usd, period: budget.period ?? "monthly")
            }
            self.policy.limits = try RateLimits.decode(c, .limits, path: decoder.codingPath)
        } catch let error as PolicyError {
            throw ConfigurationError("`\(configPath(decoder.codingPath, "budget"))`: \(error.message)")
        }
    }
}

/// Limits that protect the server from large or slow clients.
///
/// - Configuration keys:
///   - `max_body_bytes` (integer, optional, default 4 MiB): larger bodies get 413.
///   - `body_timeout` (duration, optional, default 30s): time allowed to receive a request body.
///   - `idle_timeout` (duration, optional, default 75s): idle connections, and clients that stall
///     while sending headers, are closed after this.
///   - `cors_origins` (list, optional, default none): browser origins allowed to call the gateway
///     (`https://app.example.com`); `*` allows any, and needs a master key.
///   - `metrics_auth` (bool, optional, default false): `GET /metrics` needs the master key.
///   - `metrics` (bool, optional, default true): false records no metrics and answers `GET /metrics` with 404.
///   - `max_connections` (integer, optional, default 4096): open client connections; further ones are closed.
public struct ServerLimits: Sendable, Decodable, Equatable {
    /// Largest accepted request body.
    public var maxBodyBytes = 4 << 20
    /// Time to receive a body.
    public var bodyTimeout: Duration = .seconds(30)
    /// Idle connection timeout.
    public var idleTimeout: Duration = .seconds(75)
    /// Browser origins allowed to make cross-origin calls; none by default.
    public var corsOrigins: [String] = []
    /// Whether `/metrics` needs the master key.
    public var metricsAuth = false
    /// Whether metrics are recorded and served.
    public var metrics = true
    /// Most open client connections.
    public var maxConnections = 4096

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxBodyBytes = "max_body_bytes"
        case bodyTimeout = "body_timeout"
        case idleTimeout = "idle_timeout"
        case corsOrigins = "cors_origins"
        case metricsAuth = "metrics_auth"
        case metrics
        case maxConnections = "max_connections"
    }

    /// The defaults.
    public init() {}

    /// Decodes the section, rejecting unknown keys.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.maxBodyBytes =
            try c.decodeIfPresent(Int.self, forKey: .maxBodyBytes, within: 1024...(1 << 30)) ?? self.maxBodyBytes
        self.bodyTimeout = try c.decodeDurationIfPresent(forKey: .bodyTimeout) ?? self.bodyTimeout
        self.idleTimeout = try c.decodeDurationIfPresent(forKey: .idleTimeout) ?? self.idleTimeout
        self.corsOrigins = try c.decodeIfPresent([String].self, forKey: .corsOrigins) ?? []
        for (index, origin) in self.corsOrigins.enumerated() where origin != "*" {
            // An origin is scheme://host[:port], exactly as browsers send it: no path, no trailing slash.
            let isOrigin =
                (origin.hasPrefix("http://") || origin.hasPrefix("https://"))
                && !origin.dropFirst(8).contains("/") && origin == origin.lowercased()
            guard isOrigin else {
                throw ConfigurationError(
                    "`\(configPath(decoder.codingPath, "cors_origins"))[\(index)]` must be an origin such as "
                        + "https://app.example.com (lowercase, no path); got `\(origin)`"
                )
            }
        }
        self.metricsAuth = try c.decodeIfPresent(Bool.self, forKey: .metricsAuth) ?? false
        self.metrics = try c.decodeIfPresent(Bool.self, forKey: .metrics) ?? true
        self.maxConnections =
            try c.decodeIfPresent(Int.self, forKey: .maxConnections, within: 1...1_000_000) ?? self.maxConnections
    }
}

/// How upstream calls are retried on one route before falling back to the next.
///
/// - Configuration keys:
///   - `attempts` (integer, optional, default 2): attempts per route (1 = no retry).
///   - `initial_backoff` (duration, optional, default 200ms): first wait, doubled each retry, with jitter.
///   - `max_backoff` (duration, optional, default 5s): longest wait; a longer `Retry-After` moves on to
///     the next route instead of waiting.
///   - `budget` (number, optional, default 0.2): retries of one provider may be at most this share
///     of its requests over the last 10 to 20 seconds (at least 10 retries are always allowed), so a
///     failing upstream never receives a multiple of the traffic. Moving on to the next route is
///     not a retry and is never limited.
public struct RetryConfiguration: Sendable, Decodable, Equatable {
    /// Attempts per route.
    public var attempts = 2
    /// First backoff.
    public var initialBackoff: Duration = .milliseconds(200)
    /// Longest backoff.
    public var maxBackoff: Duration = .seconds(5)
    /// Largest share of recent requests to one provider that may be retries.
    public var budget = 0.2

    enum CodingKeys: String, CodingKey, CaseIterable {
        case attempts, budget
        case initialBackoff = "initial_backoff"
        case maxBackoff = "max_backoff"
    }

    /// Creates a policy.
    public init(attempts: Int = 2, initialBackoff: Duration = .milliseconds(200), maxBackoff: Duration = .seconds(5)) {
        self.attempts = attempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// Decodes the section, rejecting unknown keys.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.attempts = try c.decodeIfPresent(Int.self, forKey: .attempts, within: 1...10) ?? self.attempts
        self.initialBackoff =
            try c.decodeDurationIfPresent(forKey: .initialBackoff, atLeast: .zero) ?? self.initialBackoff
        self.maxBackoff = try c.decodeDurationIfPresent(forKey: .maxBackoff, atLeast: .zero) ?? self.maxBackoff
        self.budget = try c.decodeIfPresent(Double.self, forKey: .budget, within: 0...1) ?? self.budget
        guard self.maxBackoff <= .seconds(3600) else {
            throw ConfigurationError("`\(configPath(decoder.codingPath, "max_backoff"))` must be at most 1h")
        }
    }
}

/// Request log settings.
///
/// - Configuration keys:
///   - `bodies` (bool, optional, default true): store request and response bodies (never for
///     zero-data-retention keys or routes).
///   - `batch_size` (integer, optional, default 256): rows written per transaction.
///   - `flush_interval` (duration, optional, default 500ms): longest time a row waits in memory.
///   - `max_queue_bytes` (integer, optional, default 64 MiB): rows waiting in memory; beyond it the
///     oldest are dropped (counted in `switchyard_request_log_dropped_total`).
///   - `max_body_bytes` (integer, optional, default 64 KiB): longest stored body; longer ones are
///     cut, with a marker giving the full length.
///   - `retention` (duration, optional, default 30 days): rows older than this are deleted.
///   - `body_retention` (duration, optional, default `retention`): bodies older than this are removed,
///     the row's metadata stays.
///   - `max_bytes` (integer, optional, default 1 GiB): the oldest rows are deleted while the log takes more.
///   - `unready_after` (duration, optional, default 30s): `/ready` fails once writes have failed this long.
public struct RequestLogConfiguration: Sendable, Decodable, Equatable {
    /// Whether bodies are stored.
    public var storesBodies = true
    /// Rows per write.
    public var batchSize = 256
    /// Longest wait before a write.
    public var flushInterval: Duration = .milliseconds(500)
    /// Most bytes of rows held in memory.
    public var maxQueueBytes = 64 << 20
    /// Longest body kept in a row.
    public var maxBodyBytes = 64 << 10
    /// Age after which rows are deleted.
    public var retention: Duration = .seconds(30 * 86_400)
    /// Age after which bodies are removed from rows.
    public var bodyRetention: Duration?
    /// Most bytes the stored log may take.
    public var maxBytes = 1 << 30
    /// How long writes may fail before `/ready` fails.
    public var unreadyAfter: Duration = .seconds(30)

    enum CodingKeys: String, CodingKey, CaseIterable {
        case storesBodies = "bodies"
        case batchSize = "batch_size"
        case flushInterval = "flush_interval"
        case maxQueueBytes = "max_queue_bytes"
        case maxBodyBytes = "max_body_bytes"
        case retention
        case bodyRetention = "body_retention"
        case maxBytes = "max_bytes"
        case unreadyAfter = "unready_after"
    }

    /// Age after which bodies are removed: `body_retention`, or `retention` when unset.
    public var effectiveBodyRetention: Duration { self.bodyRetention ?? self.retention }

    /// The defaults.
    public init() {}

    /// Decodes the section, rejecting unknown keys.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.storesBodies = try c.decodeIfPresent(Bool.self, forKey: .storesBodies) ?? true
        self.batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize, within: 1...100_000) ?? 256
        self.flushInterval = try c.decodeDurationIfPresent(forKey: .flushInterval) ?? self.flushInterval
        self.maxQueueBytes =
            try c.decodeIfPresent(Int.self, forKey: .maxQueueBytes, within: (1 << 20)...(1 << 34)) ?? self.maxQueueBytes
        self.maxBodyBytes =
            try c.decodeIfPresent(Int.self, forKey: .maxBodyBytes, within: 0...(1 << 30)) ?? self.maxBodyBytes
        self.retention = try c.decodeDurationIfPresent(forKey: .retention, atLeast: .seconds(60)) ?? self.retention
        self.bodyRetention = try c.decodeDurationIfPresent(forKey: .bodyRetention, atLeast: .zero)
        if let bodies = self.bodyRetention, bodies > self.retention {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath, "body_retention"))` must not be longer than `retention`"
            )
        }
        self.maxBytes =
            try c.decodeIfPresent(Int.self, forKey: .maxBytes, within: (1 << 20)...(1 << 50)) ?? self.maxBytes
        self.unreadyAfter = try c.decodeDurationIfPresent(forKey: .unreadyAfter) ?? self.unreadyAfter
    }
}
