// SPDX-License-Identifier: Apache-2.0

import Foundation
import Yams

extension GatewayConfiguration {
    /// Loads and validates the YAML file at `path`, replacing `${VAR}` from `environment`;
    /// `types` are the provider types its `providers` may name.
    public static func load(
        path: String,
        environment: [String: String],
        types: ProviderTypes
    ) throws -> GatewayConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError("cannot read config file `\(path)`: \(error.localizedDescription)")
        }
        return try self.load(yaml: text, environment: environment, types: types)
    }

    /// Parses and validates a YAML document, replacing `${VAR}` and `${VAR:-default}` from `environment`.
    public static func load(
        yaml: String,
        environment: [String: String],
        types: ProviderTypes
    ) throws -> GatewayConfiguration {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigurationError("the config file is not valid YAML: \(error)")
        }
        guard let node else {
            throw ConfigurationError(
                "the config file is empty: it configures no provider, so the gateway would serve nothing. "
                    + "Add `providers:` (a `type: simulator` provider serves every catalog model)"
            )
        }
        guard case .mapping = node else {
            throw ConfigurationError(
                "the config file must be a mapping of keys such as `listen`, `providers`, `models`"
            )
        }
        var budget = Self.maxNodes
        let interpolated = try interpolate(node, environment: environment, path: "", budget: &budget)
        var configuration: GatewayConfiguration
        do {
            configuration = try YAMLDecoder().decode(
                GatewayConfiguration.self,
                from: interpolated,
                userInfo: [ProviderTypes.userInfoKey: types]
            )
        } catch let error as ConfigurationError {
            throw error
        } catch let error as DecodingError {
            throw ConfigurationError(Self.describe(error))
        }
        try configuration.applyCredentialKey(from: environment)
        try configuration.validate()
        return configuration
    }

    /// Shortest master key accepted: a short key can be guessed by anyone who can reach the port.
    public static let minimumMasterKeyLength = 16

    /// Checks references between sections, which decoding one section at a time cannot see.
    public func validate() throws {
        for (name, model) in self.models.sorted(by: { $0.key < $1.key }) {
            for (index, route) in model.routes.enumerated() where self.providers[route.provider] == nil {
                throw ConfigurationError(
                    "`models.\(name).routes[\(index)].provider` is `\(route.provider)`, which is not defined under "
                        + "`providers` (defined: \(self.providers.keys.sorted().joined(separator: ", ")))"
                )
            }
            for fallback in model.fallbacks where fallback == name {
                throw ConfigurationError("`models.\(name).fallbacks` must not list the model itself")
            }
        }
        var names = Set<String>()
        for (index, key) in self.keys.enumerated() {
            guard names.insert(key.name).inserted else {
                throw ConfigurationError("`keys[\(index)].name` repeats `\(key.name)`: key names must be unique")
            }
        }
        if let key = self.masterKey, key.count < Self.minimumMasterKeyLength {
            throw ConfigurationError(
                "`master_key` is \(key.count) characters long; use at least \(Self.minimumMasterKeyLength) "
                    + "(for example `openssl rand -hex 24`)"
            )
        }
        if self.masterKey == nil, self.server.corsOrigins.contains("*") {
            throw ConfigurationError(
                "`server.cors_origins: [\"*\"]` lets any web page call the gateway: it needs `master_key`"
            )
        }
        if self.masterKey == nil, self.server.metricsAuth {
            throw ConfigurationError("`server.metrics_auth` needs `master_key`: it is the key `/metrics` asks for")
        }
        if self.providers.isEmpty {
            throw ConfigurationError(
                "`providers` is empty: the gateway would serve no model. Add a provider "
                    + "(a `type: simulator` provider serves every catalog model)"
            )
        }
    }

    /// Most YAML nodes a config may have once aliases are expanded: far more than any real file, and
    /// it stops an alias bomb (`a: &a [x, x]`, `b: &b [*a, *a]`, ...) from exhausting memory.
    static let maxNodes = 100_000

    private static func interpolate(
        _ node: Node,
        environment: [String: String],
        path: String,
        budget: inout Int
    ) throws -> Node {
        budget -= 1
        guard budget >= 0 else {
            throw ConfigurationError(
                "the config file has more than \(Self.maxNodes) values (counting each alias expansion); it is refused"
            )
        }
        switch node {
        case .scalar(var scalar):
            guard scalar.string.contains("${") else { return node }
            scalar.string = try expand(scalar.string, environment: environment, path: path)
            return .scalar(scalar)
        case .mapping(let mapping):
            let pairs = try mapping.map { key, value in
                // A list or map as a key (`[1]: x`) would otherwise be skipped silently by the decoder.
                guard case .scalar = key, let name = key.string else {
                    throw ConfigurationError(
                        "`\(path.isEmpty ? "(top level)" : path)` has a key that is not a plain name: keys must be strings"
                    )
                }
                return (
                    key,
                    try interpolate(
                        value,
                        environment: environment,
                        path: path.isEmpty ? name : path + "." + name,
                        budget: &budget
                    )
                )
            }
            return .mapping(Node.Mapping(pairs, mapping.tag, mapping.style))
        case .sequence(let sequence):
            let nodes = try sequence.enumerated().map { index, value in
                try interpolate(value, environment: environment, path: "\(path)[\(index)]", budget: &budget)
            }
            return .sequence(Node.Sequence(nodes, sequence.tag, sequence.style))
        case .alias:
            return node
        }
    }

    /// Replaces `${VAR}` and `${VAR:-default}`; an unset variable without a default becomes empty.
    static func expand(_ text: String, environment: [String: String], path: String) throws -> String {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw ConfigurationError("`\(path)` has an unclosed `${`: write `${VARIABLE}`")
            }
            let expression = rest[start.upperBound..<end]
            let parts = expression.split(separator: ":-", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ConfigurationError("`\(path)` refers to `${\(expression)}`, which is not a valid variable name")
            }
            let value = environment[name].flatMap { $0.isEmpty ? nil : $0 }
            if value == nil, parts.count == 1, path == "master_key" {
                // Running without a master key must be a choice, not a typo in a variable name.
                throw ConfigurationError(
                    "`master_key` refers to `${\(name)}`, but \(name) is not set. Set it, or write `${\(name):-}` "
                        + "to run without a master key"
                )
            }
            result += value ?? (parts.count > 1 ? String(parts[1]) : "")
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, let context):
            return "`\(configPath(context.codingPath))` has the wrong type: expected \(type)"
        case .valueNotFound(let type, let context):
            return "`\(configPath(context.codingPath))` is empty: expected \(type)"
        case .keyNotFound(let key, let context):
            return "`\(configPath(context.codingPath, key.stringValue))` is required"
        case .dataCorrupted(let context):
            return "`\(configPath(context.codingPath))` is invalid: \(context.debugDescription)"
        @unknown default:
            return "the config file is invalid: \(error)"
        }
    }
}
