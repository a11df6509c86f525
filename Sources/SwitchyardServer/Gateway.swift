// SPDX-License-Identifier: Apache-2.0

import CoreMetrics
import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import SwitchyardCore
import SwitchyardProviders
import SwitchyardStorage
import Tracing

/// A gateway assembled from its configuration: the application to run and the parts tests inspect.
///
/// The CLI and the tests build it the same way, so what is tested is what runs.
///
/// ```swift
/// let gateway = try Gateway(configuration: .embeddedDefault(environment: [:]), logger: logger)
/// try await gateway.run()   // until SIGTERM or SIGINT; flushes the request log on the way out
/// ```
public struct Gateway: Sendable {
    /// The configuration in force.
    public let configuration: GatewayConfiguration
    /// The served models.
    public let models: ModelTable
    /// The request log store.
    public let store: any RequestLogStore
    /// The batching writer in front of the store.
    public let requestLog: RequestLogWriter
    /// The upstream HTTP connections.
    public let transport: HTTPTransport
    /// Live per-route statistics.
    public let statistics: RouteStatistics
    /// The store's virtual keys.
    public let keys: KeyRegistry?
    /// Teams' own provider keys, when a credential key is set.
    public let credentials: CredentialVault?
    /// Accepts the configured OIDC issuer's tokens.
    let oidc: OIDCAuthenticator?
    private let logger: Logger
    /// The Prometheus registry behind `/metrics`.
    public let registry: PrometheusCollectorRegistry
    /// The Hummingbird application.
    public let application: Application<RouterResponder<GatewayRequestContext>>

    /// Builds a gateway; throws a ``ConfigurationError`` the user can act on.
    ///
    /// - Parameters:
    ///   - configuration: the validated configuration.
    ///   - catalog: the model catalog; the bundled one (plus `catalog.import`) when `nil`.
    ///   - registry: where metrics go; a fresh registry when `nil`.
    ///   - pause: how the dispatcher waits between retries (tests pass a no-op).
    ///   - tracer: where spans go; when `nil`, the OTLP exporter the `tracing` section configures, if any.
    ///   - logger: the server logger.
    public init(
        configuration: GatewayConfiguration,
        catalog: Catalog? = nil,
        registry: PrometheusCollectorRegistry? = nil,
        pause: (@Sendable (Duration) async throws -> Void)? = nil,
        tracer: (any Tracer)? = nil,
        logger: Logger
    ) throws {
        try configuration.validate()
        try Self.checkListenAddress(configuration)
        var catalog = try catalog ?? Catalog.bundled()
        if let path = configuration.catalog.importPath {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError("`catalog.import`: cannot read `\(path)`")
            }
            try catalog.importLiteLLM(json: data)
        }

        let transport = HTTPTransport()
        var providers: [String: any Provider] = [:]
        for (name, provider) in configuration.providers {
            providers[name] = try ProviderRegistry.makeProvider(
                name: name,
                configuration: provider,
                transport: transport
            )
        }
        let models = try ModelTable(configuration: configuration, catalog: catalog, providers: providers)

        let store: any RequestLogStore
        switch configuration.store {
        case .memory: store = MemoryStore()
        case .postgres(let location): store = PostgresStore(location: location, logger: logger)
        case .sqlite(let path):
            do {
                store = try SQLiteStore(path: path)
            } catch {
                throw ConfigurationError("`store`: cannot open the SQLite database `\(path)`: \(error)")
            }
        }
        let registry = registry ?? PrometheusCollectorRegistry()
        let metricsFactory = PrometheusMetricsFactory.switchyard(registry: registry)
        let requestLog = RequestLogWriter(
            store: store,
            settings: configuration.requestLog,
            metrics: metricsFactory,
            logger: logger
        )
        let keyRegistry = (store as? any KeyStore).map { KeyRegistry(store: $0) }
        let oidc = configuration.oidc.map {
            OIDCAuthenticator(
                configuration: $0,
                transport: transport,
                logger: logger,
                teamExists: { [keyRegistry] name in keyRegistry?.team(name) != nil }
            )
        }
        let authenticator = Authenticator(
            masterKey: configuration.masterKey,
            keys: configuration.keys,
            registry: keyRegistry,
            tokens: oidc
        )
        let alerts = (store as? any QuotaStore).flatMap {
            BudgetAlerts(configuration: configuration.alerts, store: $0, transport: transport, logger: logger)
        }
        let ledger = (store as? any QuotaStore).map {
            QuotaLedger(store: $0, holder: Self.holderName(), logger: logger, observer: alerts.map { $0.observe })
        }
        let vault = (store as? any CredentialStore).flatMap { credentials in
            configuration.credentialKey.map { CredentialVault(store: credentials, sealer: $0) }
        }
        var ownKeys: (@Sendable (String, String) -> String?)?
        if let vault {
            ownKeys = { team, provider in vault.key(team: team, provider: provider) }
        }
        let statistics = RouteStatistics(known: models.routeLabels)
        let dispatcher =
            pause.map {
                Dispatcher(
                    models: models,
                    retries: configuration.retries,
                    statistics: statistics,
                    quotaLedger: ledger,
                    ownKeys: ownKeys,
                    pause: $0
                )
            }
            ?? Dispatcher(
                models: models,
                retries: configuration.retries,
                statistics: statistics,
                quotaLedger: ledger,
                ownKeys: ownKeys
            )
        let genAIProviders = configuration.providers.mapValues { provider in
            ProviderRegistry.types.named(provider.type)?.genAIProviderName ?? provider.type
        }
        let metrics =
            configuration.server.metrics
            ? GatewayMetrics(
                factory: metricsFactory,
                isKnownModel: { models.isKnown($0) },
                genAIProvider: { genAIProviders[$0] ?? "unknown" }
            ) : nil
        let exporter =
            try tracer == nil
            ? TraceExporter.make(
                configuration.tracing,
                environment: ProcessInfo.processInfo.environment,
                logger: logger
            ) : nil
        let tracing = (tracer ?? exporter?.tracer).map { tracer in
            TracingStage(tracer: tracer, genAIProvider: { genAIProviders[$0] ?? "unknown" })
        }
        let quotas = ledger.map { ledger in
            QuotaStage(ledger: ledger, models: models, team: { [keyRegistry] name in keyRegistry?.team(name) })
        }
        let cache = try Self.responseCache(
            configuration,
            store: store,
            models: models,
            dispatcher: dispatcher,
            dropped: configuration.server.metrics
                ? CoreMetrics.Counter(label: "switchyard_cache_writes_dropped_total", factory: metricsFactory) : nil,
            logger: logger
        )
        let pipeline = Pipeline.standard(
            GatewayServices(
                authenticator: authenticator,
                requestLog: requestLog,
                storesBodies: configuration.requestLog.storesBodies,
                loggedBodyLimit: configuration.requestLog.maxBodyBytes,
                metrics: metrics,
                dispatcher: dispatcher,
                quotas: quotas,
                tracing: tracing,
                cache: cache.map { CacheStage(cache: $0) }
            )
        )

        let router = Router(context: GatewayRequestContext.self)
        router.add(
            middleware: RequestGuardMiddleware(
                browserGuard: BrowserGuard(configuration: configuration),
                metrics: metrics
            )
        )
        // The access line is debug-level; above that the middleware would only cost time per request.
        if logger.logLevel <= .debug {
            router.add(middleware: LogRequestsMiddleware(.debug, redactHeaders: [.authorization, .xAPIKey]))
        }
        router.add(middleware: ErrorMiddleware(maxBodyBytes: configuration.server.maxBodyBytes))
        let completions = CompletionRoutes(
            pipeline: pipeline,
            limits: configuration.server,
            models: models,
            authenticator: authenticator
        )
        completions.register(on: router)
        ModelRoutes(models: models, authenticator: authenticator, statistics: statistics).register(on: router)
        if let keyRegistry, let audit = store as? any AuditStore {
            KeyRoutes(
                registry: keyRegistry,
                audit: audit,
                authenticator: authenticator,
                hasMasterKey: configuration.masterKey != nil,
                maxBodyBytes: configuration.server.maxBodyBytes
            )
            .register(on: router)
        }
        if let keyRegistry, let audit = store as? any AuditStore, let quotaStore = store as? any QuotaStore,
            let ledger
        {
            TeamRoutes(
                registry: keyRegistry,
                audit: audit,
                quotas: quotaStore,
                ledger: ledger,
                authenticator: authenticator,
                maxBodyBytes: configuration.server.maxBodyBytes,
                vault: vault,
                providers: providers
            )
            .register(on: router)
        }
        if let cache {
            CacheRoutes(cache: cache, authenticator: authenticator, audit: store as? any AuditStore).register(
                on: router
            )
        }
        if let keyRegistry, let spend = store as? any SpendStore {
            SpendRoutes(store: spend, registry: keyRegistry, authenticator: authenticator).register(on: router)
        }
        ConsoleRoutes(
            pages: ConsolePages(
                models: models,
                statistics: statistics,
                store: store,
                keys: keyRegistry,
                spend: store as? any SpendStore,
                quotas: store as? any QuotaStore,
                ledger: ledger
            ),
            sessions: ConsoleSessions(masterKey: configuration.masterKey),
            authenticator: authenticator,
            administration: keyRegistry.flatMap { registry in
                (store as? any AuditStore).map { KeyAdministration(registry: registry, audit: $0) }
            },
            completions: completions,
            hasMasterKey: configuration.masterKey != nil,
            oidc: oidc
        )
        .register(on: router)
        OperationsRoutes(
            store: store,
            statistics: statistics,
            shadowTraffic: dispatcher.shadowTraffic,
            registry: registry,
            authenticator: authenticator,
            requestLog: requestLog,
            metricsNeedKey: configuration.server.metricsAuth,
            servesMetrics: configuration.server.metrics
        )
        .register(on: router)

        let idle = configuration.server.idleTimeout
        let bodyTimeout = configuration.server.bodyTimeout
        let connections = ConnectionLimitHandler.Counter(limit: configuration.server.maxConnections)
        // Services stop in reverse order: the store's pool after the request log's final flush and the
        // cache's last writes, the span exporter last, so the spans of calls finished while draining are sent.
        var services: [any Service] = exporter.map { [$0.service] } ?? []
        if let postgres = store as? PostgresStore { services.append(postgres) }
        if let ledger { services.append(QuotaLedgerService(ledger: ledger, logger: logger)) }
        if let cache {
            services.append(ResponseCacheService(cache: cache, logger: logger, shared: cache.store is PostgresStore))
        }
        services += [requestLog, RouteStatisticsService(statistics: statistics)] as [any Service]
        if let keyRegistry { services.append(KeyRegistryService(registry: keyRegistry, vault: vault, logger: logger)) }
        if let oidc { services.append(OIDCKeyService(authenticator: oidc)) }
        self.application = Application(
            router: router,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [
                        ConnectionLimitHandler(counter: connections), ClientCloseHandler(),
                        BodyDeadlineHandler(timeout: bodyTimeout),
                    ],
                    idleTimeout: .nanoseconds(idle.nanoseconds)
                )
            ),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            services: services,
            logger: logger
        )
        self.configuration = configuration
        self.models = models
        self.store = store
        self.requestLog = requestLog
        self.transport = transport
        self.statistics = statistics
        self.keys = keyRegistry
        self.credentials = vault
        self.oidc = oidc
        self.logger = logger
        self.registry = registry
    }

    /// Prepares the store: applies its migrations (PostgreSQL; SQLite migrates when opened) and loads
    /// the virtual keys. Throws a
    /// ``ConfigurationError`` for a database a newer binary migrated, or one that cannot be reached.
    public func prepare() async throws {
        do {
            try await (self.store as? PostgresStore)?.migrate()
            try await self.keys?.refresh()
            if let failed = try await self.credentials?.refresh(), failed > 0 {
                self.logger.warning(
                    "provider credentials that do not open under this credential key are ignored",
                    metadata: ["gw.count": "\(failed)"]
                )
            }
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(
                "`store`: cannot prepare \(self.configuration.store): \(String(reflecting: error).prefix(300))"
            )
        }
    }

    /// Serves until SIGTERM or SIGINT, then drains the request log and closes upstream connections.
    public func run() async throws {
        try await self.prepare()
        await self.fetchTokenKeys()
        do {
            try await self.application.runService()
        } catch {
            try? await self.transport.shutdown()
            throw error
        }
        try await self.transport.shutdown()
    }

    /// Fetches the OIDC issuer's key set once before serving; an issuer that does not answer is
    /// logged, and its tokens are refused until a later fetch succeeds (gateway keys keep working).
    func fetchTokenKeys() async {
        guard let oidc = self.oidc else { return }
        do {
            try await oidc.refresh()
        } catch {
            self.logger.warning(
                "OIDC key set fetch failed; tokens are refused until it succeeds",
                metadata: ["gw.error": "\(String(describing: error).prefix(300))"]
            )
        }
    }

    /// Closes upstream connections; for tests that run the application themselves.
    public func shutdown() async throws {
        try await self.transport.shutdown()
    }

    /// The response cache, when the `cache` section or a model turns it on: in memory or in the store
    /// (`cache.storage`), with the semantic index's embeddings model checked here.
    static func responseCache(
        _ configuration: GatewayConfiguration,
        store: any RequestLogStore,
        models: ModelTable,
        dispatcher: Dispatcher,
        dropped: CoreMetrics.Counter?,
        logger: Logger
    ) throws -> ResponseCache? {
        let settings = configuration.cache
        let overrides = configuration.models.compactMapValues(\.cache)
        let caches = settings.mode != .off || overrides.values.contains { ($0.mode ?? .off) != .off }
        guard caches else { return nil }
        if overrides.values.contains(where: { $0.mode == .semantic }), settings.semantic == nil {
            throw ConfigurationError(
                "a model has `cache.mode: semantic`, which needs `cache.semantic.embedding_model` in the `cache` section"
            )
        }
        var embedder: ResponseCache.Embedder?
        if let semantic = settings.semantic {
            guard let embeddings = models.resolve(semantic.embeddingModel), embeddings.kind ?? .embedding == .embedding
            else {
                throw ConfigurationError(
                    "`cache.semantic.embedding_model` is `\(semantic.embeddingModel)`, which this gateway does not serve "
                        + "as an embeddings model; configure it under `models` or name a catalog embeddings model"
                )
            }
            embedder = dispatcher.embedder(model: semantic.embeddingModel, logger: logger)
        }
        let retentionFree = Set(
            configuration.models.filter { $0.value.routes.allSatisfy(\.zeroDataRetention) }.keys
        )
        guard settings.storage == .store, let database = store as? any ResponseCacheStore else {
            return ResponseCache(
                configuration: settings,
                models: overrides,
                store: MemoryResponseCache(maxBytes: settings.maxBytes),
                zeroDataRetention: retentionFree,
                droppedWrites: dropped,
                embedder: embedder,
                logger: logger
            )
        }
        // Entries in use are kept in memory too (`max_bytes`): a hit on SQLite cost about as much CPU
        // as a pass-through call (docs/benchmarks.md). On PostgreSQL another instance may delete an
        // entry, so the memory copy is read again after the 2 s the semantic index takes to catch up.
        return ResponseCache(
            configuration: settings,
            models: overrides,
            store: database,
            front: MemoryResponseCache(maxBytes: settings.maxBytes),
            frontLifetime: store is PostgresStore ? 2 : nil,
            zeroDataRetention: retentionFree,
            droppedWrites: dropped,
            embedder: embedder,
            logger: logger
        )
    }

    /// This instance's name as a quota holder: unique per process, so two instances never share holds.
    static func holderName() -> String {
        var generator = SystemRandomNumberGenerator()
        return "i-" + Hex.lowercase((0..<8).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// Refuses to listen beyond loopback without a master key: an open gateway spends its owner's provider keys.
    static func checkListenAddress(_ configuration: GatewayConfiguration) throws {
        let host = configuration.host.lowercased()
        let isLoopback = host == "localhost" || host == "::1" || host.hasPrefix("127.")
        guard isLoopback || configuration.masterKey != nil else {
            throw ConfigurationError(
                "refusing to listen on \(configuration.host):\(configuration.port) without a master key: anyone who can reach "
                    + "it could spend your provider credits. Set `master_key` in the config (or SWITCHYARD_MASTER_KEY), "
                    + "or listen on 127.0.0.1."
            )
        }
    }
}
