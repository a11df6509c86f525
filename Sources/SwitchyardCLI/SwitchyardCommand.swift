// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import CoreMetrics
import Foundation
import Logging
import Prometheus
import SwitchyardCore
import SwitchyardProviders
import SwitchyardServer

/// The `switchyard` command.
struct SwitchyardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard",
        abstract: "An OpenAI-compatible LLM gateway.",
        subcommands: [Serve.self, Models.self, CheckConfig.self, Keys.self],
        defaultSubcommand: Serve.self
    )
}

/// Loads the configuration file, or the embedded default when no file is given.
func loadConfiguration(path: String?) throws -> GatewayConfiguration {
    let environment = ProcessInfo.processInfo.environment
    guard let path else {
        var configuration = GatewayConfiguration.embeddedDefault(environment: environment)
        try configuration.applyCredentialKey(from: environment)
        return configuration
    }
    return try GatewayConfiguration.load(path: path, environment: environment)
}

/// Prints a configuration error the way a person reads it, and exits non-zero.
func fail(_ error: any Error) -> ExitCode {
    let message = (error as? ConfigurationError)?.message ?? "\(error)"
    FileHandle.standardError.write(Data("switchyard: \(message)\n".utf8))
    return ExitCode(78)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway.")

    @Option(name: .shortAndLong, help: "Config file (YAML). Without one, the embedded default runs: simulator, SQLite.")
    var config: String?
    @Option(help: "Override the listen host.")
    var host: String?
    @Option(help: "Override the listen port.")
    var port: Int?

    func run() async throws {
        let level = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = LazyMetadataLogHandler(StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory.switchyard(registry: registry))
        let logger = Logger(label: "switchyard")

        let gateway: Gateway
        do {
            var configuration = try loadConfiguration(path: self.config)
            if let host = self.host { configuration.host = host }
            if let port = self.port { configuration.port = port }
            gateway = try Gateway(configuration: configuration, registry: registry, logger: logger)
        } catch {
            throw fail(error)
        }
        let configuration = gateway.configuration
        logger.info(
            "switchyard starting",
            metadata: [
                "gw.listen": "\(configuration.host):\(configuration.port)",
                "gw.store": "\(configuration.store)",
                "gw.providers": "\(configuration.providers.keys.sorted().joined(separator: ","))",
                "gw.models": "\(gateway.models.publicNames.count)",
                "gw.nio_executor": "\(installedNIOExecutor)",
                "gw.auth":
                    "\(configuration.masterKey == nil && configuration.keys.isEmpty ? "off (loopback only)" : "on")",
            ]
        )
        let simulated = gateway.models.simulatedNames
        if !simulated.isEmpty {
            let names = simulated.count == gateway.models.publicNames.count ? "all" : simulated.joined(separator: ",")
            logger.info(
                "the simulator answers these models with invented text (no real provider serves them)",
                metadata: ["gw.simulated_models": "\(names)", "gw.simulated_count": "\(simulated.count)"]
            )
        }
        try await gateway.run()
    }
}

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the served models as a table.")

    @Option(name: .shortAndLong, help: "Config file (YAML); the embedded default when absent.")
    var config: String?

    func run() async throws {
        let table: ModelTable
        do {
            var configuration = try loadConfiguration(path: self.config)
            configuration.store = .memory
            let gateway = try Gateway(configuration: configuration, logger: Logger(label: "switchyard"))
            table = gateway.models
            try await gateway.shutdown()
        } catch {
            throw fail(error)
        }
        print(ModelTablePrinter.render(table))
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a config file and print what it serves."
    )

    @Argument(help: "The config file to check.")
    var file: String

    func run() async throws {
        do {
            var configuration = try GatewayConfiguration.load(
                path: self.file,
                environment: ProcessInfo.processInfo.environment
            )
            configuration.store = .memory
            let gateway = try Gateway(configuration: configuration, logger: Logger(label: "switchyard"))
            try await gateway.shutdown()
            print(
                "\(self.file): OK — listens on \(configuration.host):\(configuration.port), "
                    + "\(configuration.providers.count) provider(s), \(gateway.models.publicNames.count) model(s)"
            )
        } catch {
            throw fail(error)
        }
    }
}

/// Renders the model table for `switchyard models`.
enum ModelTablePrinter {
    static func render(_ table: ModelTable) -> String {
        var rows: [[String]] = [
            [
                "MODEL", "PROVIDER", "UPSTREAM MODEL", "CONTEXT", "MAX OUT", "IN $/1M", "CACHED $/1M", "OUT $/1M",
                "CAPABILITIES",
            ]
        ]
        for name in table.publicNames {
            guard let model = table.resolve(name) else { continue }
            for (index, route) in model.routes.enumerated() {
                rows.append([
                    index == 0 ? name : "",
                    route.provider.name,
                    route.upstreamModel,
                    route.contextWindow.map(String.init) ?? "-",
                    route.maxOutputTokens.map(String.init) ?? "-",
                    route.pricing.map { Self.price($0.input) } ?? "-",
                    route.pricing?.cachedInput.map(Self.price) ?? "-",
                    route.pricing.map { Self.price($0.output) } ?? "-",
                    Self.capabilities(route.capabilities),
                ])
            }
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    static func price(_ value: Double) -> String { CostFormat.plainDecimal(value) }

    static func capabilities(_ c: Capabilities) -> String {
        [
            (c.streaming, "stream"), (c.tools, "tools"), (c.vision, "vision"), (c.jsonSchema, "json_schema"),
            (c.jsonMode, "json"), (c.promptCaching, "cache"), (c.reasoning, "reasoning"),
        ].filter(\.0).map(\.1).joined(separator: ",")
    }
}
