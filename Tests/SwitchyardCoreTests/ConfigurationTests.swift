// SPDX-License-Identifier: Apache-2.0

import Testing

@testable import SwitchyardCore

struct ConfigurationTests {
    @Test("Loads the SPEC example with interpolation, durations and overrides")
    func loadsExample() throws {
        let yaml = """
            listen: 0.0.0.0:8080
            master_key: ${MASTER}
            store: sqlite:data/gw.db
            providers:
              openai: {type: openai, base_url: https://api.openai.com/v1, api_key: "${OPENAI_API_KEY}"}
              backup: {type: openai, base_url: "http://127.0.0.1:${BACKUP_PORT:-8000}/v1", api_key: none}
            models:
              gpt-4o-mini:
                strategy: fallback
                routes:
                  - {provider: openai, model: gpt-4o-mini}
                  - provider: backup
                    model: gpt-4o-mini
                    pricing: {input: 0.10, cached_input: 0.05, output: 0.40}
                    capabilities: {tools: false}
                timeouts: {connect: 2s, first_token: 20s, idle: 30s, total: 10m}
                fallbacks: [gpt-4o]
            """
        let configuration = try GatewayConfiguration.load(
            yaml: yaml,
            environment: ["MASTER": "sk-m", "OPENAI_API_KEY": "sk-o"]
        )
        #expect(configuration.host == "0.0.0.0" && configuration.port == 8080)
        #expect(configuration.masterKey == "sk-m")
        #expect(configuration.store == .sqlite(path: "data/gw.db"))
        #expect(configuration.providers["openai"]?.apiKey == "sk-o")
        #expect(configuration.providers["backup"]?.baseURL == "http://127.0.0.1:8000/v1")
        let model = try #require(configuration.models["gpt-4o-mini"])
        #expect(model.routes[1].pricing == Pricing(input: 0.10, cachedInput: 0.05, output: 0.40))
        #expect(model.routes[1].capabilities == CapabilityOverrides(["tools": false]))
        #expect(
            model.timeouts
                == Timeouts(connect: .seconds(2), firstToken: .seconds(20), idle: .seconds(30), total: .seconds(600))
        )
        #expect(model.fallbacks == ["gpt-4o"])
    }

    @Test(
        "Rejects mistakes with the key path and the fix",
        arguments: [
            ("listen: 127.0.0.1:4000\nlisten_port: 3", "unknown key `listen_port`"),
            ("providers:\n  a: {type: openai, apikey: x}", "unknown key `providers.a.apikey`"),
            ("providers:\n  a: {type: cohere}", "`providers.a.type`"),
            ("providers:\n  a: {type: openai, ttft: 1s}", "`providers.a.ttft` applies to `type: simulator` only"),
            (
                "models:\n  m:\n    routes: [{provider: nowhere, model: x}]",
                "`models.m.routes[0].provider` is `nowhere`"
            ),
            (
                "models:\n  m:\n    routes: [{provider: p, model: x, capabilities: {teleport: true}}]\nproviders: {p: {type: simulator}}",
                "unknown capability `teleport`"
            ),
            (
                "models:\n  m:\n    timeouts: {total: soon}\n    routes: [{provider: p, model: x}]\nproviders: {p: {type: simulator}}",
                "`models.m.timeouts.total` must be a duration"
            ),
            ("listen: localhost", "`listen` must be HOST:PORT"),
            ("store: postgres://u@h/db", "PostgreSQL is not supported"),
            ("cache: {mode: semantic}", "no response cache yet"),
            ("keys:\n  - {name: a, key: k, budget: {usd: 5}}", "`keys[0].budget`"),
            ("master_key: [1, 2", "not valid YAML"),
            ("- a\n- b", "must be a mapping"),
            ("providers:\n  a: {type: openai, api_key: \"${UNCLOSED\"}", "unclosed `${`"),
        ]
    )
    func rejectsMistakes(_ yaml: String, _ fragment: String) {
        #expect {
            _ = try GatewayConfiguration.load(yaml: yaml, environment: [:])
        } throws: { error in
            (error as? ConfigurationError)?.message.contains(fragment) == true
        }
    }

    @Test("The embedded default serves the simulator and adds providers whose key is set")
    func embeddedDefault() {
        let bare = GatewayConfiguration.embeddedDefault(environment: [:])
        #expect(bare.host == "127.0.0.1" && bare.port == 4000)
        #expect(bare.store == .sqlite(path: "switchyard.db"))
        #expect(Array(bare.providers.keys) == ["simulator"])
        let keyed = GatewayConfiguration.embeddedDefault(environment: [
            "GROQ_API_KEY": "gsk", "SWITCHYARD_MASTER_KEY": "sk",
        ])
        #expect(keyed.providers["groq"]?.baseURL == "https://api.groq.com/openai/v1")
        #expect(keyed.providers["groq"]?.apiKey == "gsk")
        #expect(keyed.masterKey == "sk")
    }

    @Test("Converts durations to nanoseconds, saturating instead of overflowing")
    func convertsDurations() {
        #expect(Duration.milliseconds(1500).nanoseconds == 1_500_000_000)
        #expect(Duration.milliseconds(1500).milliseconds == 1500)
        #expect(Duration.seconds(Int64.max).nanoseconds == .max)
        #expect(ConfigDuration(parsing: "1000000000h")?.duration.nanoseconds == .max)
    }
}
