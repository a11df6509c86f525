// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// The response cache end to end: exact hits, streamed replay, the per-request controls, namespaces
/// and `DELETE /admin/cache`, over real HTTP with the upstream's calls counted.
@Suite(.timeLimit(.minutes(1)))
struct CacheTests {
    static let pricing = Pricing(input: 1, output: 2)

    static func configuration(
        _ port: Int,
        keys: [KeyConfiguration] = [],
        storage: CacheConfiguration.Storage = .memory
    )
        -> GatewayConfiguration
    {
        var configuration = TestGateway.configuration(
            upstreamPort: port,
            models: ["m": ModelConfiguration(routes: [.init(provider: "up", model: "ok", pricing: Self.pricing)])]
        )
        configuration.cache.mode = .exact
        configuration.cache.storage = storage
        configuration.keys = keys
        return configuration
    }

    /// Sends `body` until the answer says `status` (stores are written off the request path), at most 2 s.
    static func until(
        _ status: String,
        port: Int,
        body: String,
        headers: [(String, String)] = []
    ) async throws -> (status: Int, headers: [String: String], body: String) {
        for _ in 0..<100 {
            let response = try await TestGateway.send(port: port, body: body, headers: headers)
            if response.headers["x-switchyard-cache"] == status { return response }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("no `\(status)` within 2 s")
        return try await TestGateway.send(port: port, body: body, headers: headers)
    }

    @Test("An equal request is answered from the cache: no upstream call, cost 0, the saving logged")
    func exactHit() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(upstream: upstream, configure: { Self.configuration($0) }) { gateway, port in
            let first = try await TestGateway.send(
                port: port,
                body: #"{"model":"m","messages":[{"role":"user","content":"Say hello"}],"temperature":0.5,"user":"a"}"#
            )
            #expect(first.status == 200)
            #expect(first.headers["x-switchyard-cache"] == "miss")
            #expect(first.headers["x-switchyard-cost-usd"] == "0.00005")
            // Other member order, whitespace, number spelling and `user`: the same request.
            let hit = try await Self.until(
                "hit",
                port: port,
                body:
                    #"{ "user": "b", "temperature": 0.50, "messages": [ {"content":"Say hello","role":"user"} ], "model": "m" }"#
            )
            #expect(hit.status == 200)
            #expect(hit.headers["x-switchyard-cost-usd"] == "0")
            #expect(hit.headers["x-switchyard-attempts"] == "0")
            #expect(hit.headers["x-switchyard-provider"] == "up")
            #expect(hit.body.contains(#""cost":0"#))
            #expect(hit.body.contains("Hello from upstream"))
            #expect(upstream.calls.count == 1)

            // A changed sampling parameter is another request.
            let other = try await TestGateway.send(
                port: port,
                body: #"{"model":"m","messages":[{"role":"user","content":"Say hello"}],"temperature":0.6}"#
            )
            #expect(other.headers["x-switchyard-cache"] == "miss")
            #expect(upstream.calls.count == 2)

            await gateway.requestLog.flush()
            let rows = try await gateway.store.records(matching: RequestLogQuery())
            let logged = try #require(rows.first { $0.id == hit.headers["x-switchyard-request-id"] })
            #expect(logged.cacheStatus == "hit")
            #expect(logged.costUSD == 0)
            #expect(logged.savedUSD == 0.00005)

            // The console's spend page shows the saving: the miss cost $0.00005 twice, the hit saved it once.
            let spend = try await TestGateway.send(port: port, path: "/spend?by=model&days=7", method: .GET)
            #expect(spend.body.contains("saved by the cache $0.000050"))
            #expect(spend.body.contains(#"<td class="num">$0.000100</td><td class="num">$0.000050</td>"#))
        }
    }

    @Test("A cached answer streams as chunks with usage and [DONE]; a streamed answer is stored assembled")
    func streamedReplay() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(upstream: upstream, configure: { Self.configuration($0) }) { _, port in
            let plain = TestGateway.chatBody(model: "m")
            _ = try await TestGateway.send(port: port, body: plain)
            let streamed = try await Self.until(
                "hit",
                port: port,
                body: TestGateway.chatBody(
                    model: "m",
                    stream: true,
                    extra: #","stream_options":{"include_usage":true}"#
                )
            )
            #expect(streamed.headers["content-type"] == "text/event-stream")
            #expect(streamed.body.contains(#""content":"Hello from upstream""#))
            #expect(streamed.body.contains(#""finish_reason":"stop""#))
            #expect(streamed.body.contains(#""prompt_tokens":10"#) && streamed.body.contains(#""cost":0"#))
            #expect(streamed.body.hasSuffix("data: [DONE]\n\n"))
            #expect(upstream.calls.count == 1)

            // The other way: a streamed miss, then a non-streaming hit from the assembled answer.
            let question = #","messages":[{"role":"user","content":"Stream it"}]"#
            let streamBody = #"{"model":"m","stream":true"# + question + "}"
            let miss = try await TestGateway.send(port: port, body: streamBody)
            #expect(miss.headers["x-switchyard-cache"] == "miss")
            let hit = try await Self.until("hit", port: port, body: #"{"model":"m""# + question + "}")
            let object = try JSONSerialization.jsonObject(with: Data(hit.body.utf8)) as? [String: Any]
            let choice = (object?["choices"] as? [[String: Any]])?.first
            let message = choice?["message"] as? [String: Any]
            #expect(message?["content"] as? String == "Hello there")
            #expect(choice?["finish_reason"] as? String == "stop")
            #expect((object?["usage"] as? [String: Any])?["completion_tokens"] as? Int == 20)
            #expect(upstream.calls.count == 2)
        }
    }

    @Test("A stream that breaks is never stored")
    func brokenStreamNotStored() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            configure: { port in
                var configuration = Self.configuration(port)
                configuration.models["broken"] = ModelConfiguration(routes: [
                    .init(provider: "up", model: "broken-stream")
                ])
                return configuration
            }
        ) { _, port in
            let body = TestGateway.chatBody(model: "broken", stream: true)
            _ = try await TestGateway.send(port: port, body: body)
            try await Task.sleep(for: .milliseconds(200))
            let again = try await TestGateway.send(port: port, body: body)
            #expect(again.headers["x-switchyard-cache"] == "miss")
        }
    }

    @Test("no-cache neither reads nor writes, no-store reads but never writes, refresh replaces; others are 400")
    func requestControls() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(upstream: upstream, configure: { Self.configuration($0) }) { _, port in
            let body = TestGateway.chatBody(model: "m")
            let noStore = try await TestGateway.send(
                port: port,
                body: body,
                headers: [("x-switchyard-cache", "no-store")]
            )
            #expect(noStore.headers["x-switchyard-cache"] == "miss")
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await TestGateway.send(port: port, body: body).headers["x-switchyard-cache"] == "miss")
            _ = try await Self.until("hit", port: port, body: body)
            let calls = upstream.calls.count
            let noCache = try await TestGateway.send(
                port: port,
                body: body,
                headers: [("x-switchyard-cache", "no-cache")]
            )
            #expect(noCache.headers["x-switchyard-cache"] == "bypass")
            let refresh = try await TestGateway.send(
                port: port,
                body: body,
                headers: [("x-switchyard-cache", "refresh")]
            )
            #expect(refresh.headers["x-switchyard-cache"] == "bypass")
            #expect(upstream.calls.count == calls + 2)
            let served = try await TestGateway.send(
                port: port,
                body: body,
                headers: [("x-switchyard-cache", "no-store")]
            )
            #expect(served.headers["x-switchyard-cache"] == "hit")

            let bad = try await TestGateway.send(port: port, body: body, headers: [("x-switchyard-cache", "forever")])
            #expect(bad.status == 400)
            #expect(bad.body.contains(#""param":"x-switchyard-cache""#))
        }
    }

    @Test("Teams never see each other's answers; a key with zero data retention is never cached")
    func namespaces() async throws {
        let upstream = FakeOpenAIUpstream()
        let keys = [
            KeyConfiguration(name: "a", key: "sk-team-a-0123456789", team: "a"),
            KeyConfiguration(name: "a2", key: "sk-team-a2-0123456789", team: "a"),
            KeyConfiguration(name: "b", key: "sk-team-b-0123456789", team: "b"),
            KeyConfiguration(name: "private", key: "sk-private-0123456789", zeroDataRetention: true),
        ]
        try await TestGateway.run(upstream: upstream, configure: { Self.configuration($0, keys: keys) }) { _, port in
            let body = TestGateway.chatBody(model: "m")
            func send(_ key: String) async throws -> String? {
                try await TestGateway.send(port: port, body: body, headers: [("authorization", "Bearer \(key)")])
                    .headers["x-switchyard-cache"]
            }
            #expect(try await send("sk-team-a-0123456789") == "miss")
            _ = try await Self.until(
                "hit",
                port: port,
                body: body,
                headers: [("authorization", "Bearer sk-team-a2-0123456789")]
            )
            #expect(try await send("sk-team-b-0123456789") == "miss")
            #expect(try await send("sk-private-0123456789") == "bypass")
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await send("sk-private-0123456789") == "bypass")
        }
    }

    @Test("A model's own cache settings, routes with zero data retention and fallback answers")
    func perModelSettings() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            configure: { port in
                var configuration = Self.configuration(port)
                var uncached = ModelConfiguration(routes: [.init(provider: "up", model: "ok")])
                uncached.cache = ModelCacheConfiguration(mode: .off)
                configuration.models["uncached"] = uncached
                var private_ = ModelConfiguration(routes: [.init(provider: "up", model: "ok")])
                private_.routes[0].zeroDataRetention = true
                configuration.models["private"] = private_
                configuration.models["failing"] = ModelConfiguration(
                    routes: [.init(provider: "up", model: "server-error")],
                    fallbacks: ["m"]
                )
                var brief = ModelConfiguration(routes: [.init(provider: "up", model: "ok")])
                brief.cache = ModelCacheConfiguration(ttl: .seconds(1))
                configuration.models["brief"] = brief
                return configuration
            }
        ) { _, port in
            for model in ["uncached", "private"] {
                let body = TestGateway.chatBody(model: model)
                #expect(try await TestGateway.send(port: port, body: body).headers["x-switchyard-cache"] == "bypass")
                try await Task.sleep(for: .milliseconds(100))
                #expect(try await TestGateway.send(port: port, body: body).headers["x-switchyard-cache"] == "bypass")
            }
            // Answered by its fallback model `m`: served, never kept under `failing`.
            let failing = TestGateway.chatBody(model: "failing")
            let fallback = try await TestGateway.send(port: port, body: failing)
            #expect(fallback.status == 200 && fallback.headers["x-switchyard-cache"] == "miss")
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await TestGateway.send(port: port, body: failing).headers["x-switchyard-cache"] == "miss")

            // `ttl: 1s` on this model: a hit at once, a miss once it expired.
            let brief = TestGateway.chatBody(model: "brief")
            _ = try await TestGateway.send(port: port, body: brief)
            _ = try await Self.until("hit", port: port, body: brief)
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await TestGateway.send(port: port, body: brief).headers["x-switchyard-cache"] == "miss")
        }
    }

    @Test("Hits count against a key's requests but use none of its tokens per minute")
    func hitsUseNoTokens() async throws {
        let upstream = FakeOpenAIUpstream()
        let limited = KeyConfiguration(
            name: "limited",
            key: "sk-limited-0123456789",
            policy: SpendPolicy(limits: try RateLimits(rpm: 1000, tpm: 200))
        )
        try await TestGateway.run(upstream: upstream, configure: { Self.configuration($0, keys: [limited]) }) {
            _,
            port in
            let auth = [("authorization", "Bearer sk-limited-0123456789")]
            let body = TestGateway.chatBody(model: "m", extra: #","max_tokens":10"#)
            _ = try await Self.until("hit", port: port, body: body, headers: auth)
            // Each answer reports 30 tokens: counted, twenty hits would pass the 200 per minute.
            for _ in 0..<20 {
                let hit = try await TestGateway.send(port: port, body: body, headers: auth)
                #expect(hit.status == 200 && hit.headers["x-switchyard-cache"] == "hit")
            }
        }
    }

    @Test("DELETE /admin/cache removes a model's entries, audited; other filters are refused")
    func adminClear() async throws {
        let upstream = FakeOpenAIUpstream()
        try await TestGateway.run(
            upstream: upstream,
            configure: { port in
                var configuration = Self.configuration(port, storage: .store)
                configuration.masterKey = "sk-master-0123456789"
                configuration.models["n"] = ModelConfiguration(routes: [.init(provider: "up", model: "ok")])
                return configuration
            }
        ) { _, port in
            let auth = [("authorization", "Bearer sk-master-0123456789")]
            for model in ["m", "n"] {
                _ = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: model), headers: auth)
                _ = try await Self.until("hit", port: port, body: TestGateway.chatBody(model: model), headers: auth)
            }
            let cleared = try await TestGateway.send(
                port: port,
                path: "/admin/cache?model=m",
                method: .DELETE,
                headers: auth
            )
            #expect(cleared.status == 200)
            #expect(cleared.body.contains(#""removed":1"#))
            let m = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "m"), headers: auth)
            #expect(m.headers["x-switchyard-cache"] == "miss")
            let n = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "n"), headers: auth)
            #expect(n.headers["x-switchyard-cache"] == "hit")
            let audit = try await TestGateway.send(port: port, path: "/admin/audit", method: .GET, headers: auth)
            #expect(audit.body.contains("cache.clear"))

            let wrong = try await TestGateway.send(
                port: port,
                path: "/admin/cache?age=1",
                method: .DELETE,
                headers: auth
            )
            #expect(wrong.status == 400)
            let long = try await TestGateway.send(
                port: port,
                path: "/admin/cache?model=" + String(repeating: "m", count: 257),
                method: .DELETE,
                headers: auth
            )
            #expect(long.status == 400 && long.body.contains("`model` must be 1 to 256 characters"))
            let unauthenticated = try await TestGateway.send(port: port, path: "/admin/cache", method: .DELETE)
            #expect(unauthenticated.status == 401)
        }
    }
}
