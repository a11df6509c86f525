// SPDX-License-Identifier: Apache-2.0

import SwitchyardProviders
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
            environment: ["MASTER": "sk-m-0123456789abcdef", "OPENAI_API_KEY": "sk-o"]
        )
        #expect(configuration.host == "0.0.0.0" && configuration.port == 8080)
        #expect(configuration.masterKey == "sk-m-0123456789abcdef")
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
            ("store: postgres://u@h/db?sslmode=maybe", "`sslmode` must be disable, prefer or require"),
            ("store: mysql://u@h/db", "`store` must be `sqlite:PATH`, `postgres://...` or `memory`"),
            ("cache: {mode: semantic}", "needs `cache.semantic.embedding_model`"),
            ("cache: {mode: fuzzy}", "`cache.mode` is `fuzzy`; choose one of off, exact, semantic"),
            ("cache: {ttl: 0s}", "`cache.ttl` must be at least 1000ms"),
            ("cache: {storage: disk}", "`cache.storage` is `disk`; choose one of store, memory"),
            ("cache: {max_entry_bytes: 10}", "`cache.max_entry_bytes` must be between 1024"),
            ("cache: {semantic: {threshold: 0.9}}", "`cache.semantic.embedding_model` is required"),
            (
                "cache: {semantic: {embedding_model: e, threshold: 1.5}}",
                "`cache.semantic.threshold` must be between 0.0 and 1.0; got 1.5"
            ),
            ("cache: {semantic: {embedding_model: e, thresholds: {'team:a': 2}}}", "must be between 0 and 1"),
            ("cache: {semantic: {embedding_model: e, max_temperature: 3}}", "`cache.semantic.max_temperature`"),
            (
                "cache: {semantic: {embedding_model: e, thresholds: {"
                    + (0...10_000).map { "n\($0): 0.9" }.joined(separator: ", ") + "}}}",
                "lists more than 10,000 namespaces"
            ),
            ("cache: {semantic: {embedding_model: e, size: 3}}", "size"),
            (
                "models: {m: {routes: [{provider: p, model: x}], cache: {mode: always}}}",
                "`models.m.cache.mode` is `always`"
            ),
            ("keys:\n  - {name: a, key: k, budget: {usd: 0}}", "`keys[0].budget`: `usd` must be a number above 0"),
            ("keys:\n  - {name: a, key: k, limits: {rpm: 10, rpd: 5}}", "rpd"),
            ("oidc: {issuer: \"https://id.example.com\"}", "`oidc.audience` is required"),
            ("oidc: {issuer: \"http://id.example.com\", audience: gw}", "`oidc.issuer` must be an https URL"),
            ("credential_key: c2hvcnQ=", "`credential_key` must be 32 random bytes in base64"),
            (
                "providers: {s: {type: simulator}}\nmodels:\n  m:\n    routes: [{provider: s, model: gpt-4o, limits: {tpm: 0}}]",
                "`models.m.routes[0].limits`: `tpm` must be a whole number from 1",
            ),
            ("master_key: [1, 2", "not valid YAML"),
            ("- a\n- b", "must be a mapping"),
            ("providers:\n  a: {type: openai, api_key: \"${UNCLOSED\"}", "unclosed `${`"),
            // Written to fail before the hardening: each of these loaded, or trapped, before.
            ("providers: {s: {type: simulator}}\n[1]: x", "keys must be strings"),
            ("providers: {s: {type: simulator, ttft: {a: 1}}}\n? [a, b]\n: c", "keys must be strings"),
            ("", "the config file is empty"),
            ("listen: 127.0.0.1:4000", "`providers` is empty"),
            (
                "providers: {s: {type: simulator, tokens_per_second: 0}}",
                "`providers.s.tokens_per_second` must be between"
            ),
            ("providers: {s: {type: simulator, tokens_per_second: .inf}}", "`providers.s.tokens_per_second`"),
            ("providers: {s: {type: simulator, failure_rate: .nan}}", "`providers.s.failure_rate` must be between"),
            ("providers: {s: {type: simulator, ttft: 1e300}}", "`providers.s.ttft` must be a duration"),
            ("providers: {s: {type: simulator, ttft: -1s}}", "`providers.s.ttft` must be a duration"),
            ("providers: {s: {type: simulator}}\nserver: {body_timeout: 0s}", "`server.body_timeout` must be at least"),
            ("providers: {s: {type: simulator}}\nserver: {max_body_bytes: 1e12}", "`server.max_body_bytes`"),
            (
                "providers: {s: {type: simulator}}\nrequest_log: {batch_size: -5}",
                "`request_log.batch_size` must be between"
            ),
            (
                "providers: {s: {type: simulator}}\nretries: {attempts: 0}",
                "`retries.attempts` must be between 1 and 10"
            ),
            (
                "providers: {s: {type: simulator}}\nretries: {max_backoff: 300d}",
                "`retries.max_backoff` must be a duration"
            ),
            (
                "providers: {s: {type: simulator}}\nmodels: {m: {routes: [{provider: s, model: x, max_output_tokens: 0}]}}",
                "`models.m.routes[0].max_output_tokens` must be between 1 and"
            ),
            (
                "providers: {s: {type: simulator}}\nmodels: {m: {routes: [{provider: s, model: x, pricing: {input: -1, output: 1}}]}}",
                "`models.m.routes[0].pricing.input` must be between 0 and"
            ),
            ("providers: {s: {type: simulator}}\nmaster_key: short", "`master_key` is 5 characters long"),
            (
                "providers: {s: {type: simulator}}\nmaster_key: ${SWITCHYARD_TEST_UNSET}",
                "SWITCHYARD_TEST_UNSET is not set"
            ),
            (
                "providers: {s: {type: simulator}}\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                    + "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                    + "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]",
                "more than 100000 values"
            ),
        ]
    )
    func rejectsMistakes(_ yaml: String, _ fragment: String) {
        #expect {
            _ = try GatewayConfiguration.load(yaml: yaml, environment: [:])
        } throws: { error in
            (error as? ConfigurationError)?.message.contains(fragment) == true
        }
    }

    @Test("`${VAR:-}` opts into running without a master key; a long enough key is accepted")
    func masterKeyChoices() throws {
        let base = "providers: {s: {type: simulator}}\n"
        let none = try GatewayConfiguration.load(
            yaml: base + "master_key: ${SWITCHYARD_TEST_UNSET:-}",
            environment: [:]
        )
        #expect(none.masterKey == nil)
        let set = try GatewayConfiguration.load(
            yaml: base + "master_key: ${KEY}",
            environment: ["KEY": "0123456789abcdef"]
        )
        #expect(set.masterKey == "0123456789abcdef")
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
        // Config durations stop at a year, so a typo is an error rather than a saturated value.
        #expect(ConfigDuration(parsing: "1000000000h") == nil)
        #expect(ConfigDuration(parsing: "8760h")?.duration == .seconds(365 * 86_400))
    }
}
