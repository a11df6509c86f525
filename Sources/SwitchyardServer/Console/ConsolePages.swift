// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore

/// Builds each console page's view from the gateway's live parts: the model table, route
/// statistics, the request log, spend and keys. No HTML here: the templates render the views.
struct ConsolePages: Sendable {
    let models: ModelTable
    let statistics: RouteStatistics
    let store: any RequestLogStore
    let keys: KeyRegistry?
    let spend: (any SpendStore)?
    let quotas: (any QuotaStore)?
    let ledger: QuotaLedger?

    // MARK: Catalog

    func catalog(chrome: Chrome, query: String, capability: String, sort: String) -> CatalogPage {
        let needle = query.lowercased()
        var models = self.models.publicNames.compactMap { self.models.resolve($0) }.filter { model in
            guard let route = model.routes.first else { return false }
            if !needle.isEmpty {
                let haystack = [
                    model.publicName, route.catalogModel?.name ?? "", route.provider.name, route.upstreamModel,
                ]
                guard haystack.contains(where: { $0.lowercased().contains(needle) }) else { return false }
            }
            return capability.isEmpty || Self.capabilityNames(route.capabilities).contains(capability)
        }
        models.sort { a, b in
            let (x, y) = (a.routes.first, b.routes.first)
            switch sort {
            case "input_price":
                return (x?.pricing?.input ?? .infinity, a.publicName) < (y?.pricing?.input ?? .infinity, b.publicName)
            case "output_price":
                return (x?.pricing?.output ?? .infinity, a.publicName) < (y?.pricing?.output ?? .infinity, b.publicName)
            case "context": return (-(x?.contextWindow ?? 0), a.publicName) < (-(y?.contextWindow ?? 0), b.publicName)
            case "max_output":
                return (-(x?.maxOutputTokens ?? 0), a.publicName) < (-(y?.maxOutputTokens ?? 0), b.publicName)
            default: return a.publicName < b.publicName
            }
        }
        let rows = models.map { model in
            let route = model.routes.first
            return CatalogPage.Row(
                id: model.publicName,
                link: Self.path(model.publicName),
                name: route?.catalogModel?.name,
                context: ConsoleFormat.count(route?.contextWindow),
                maxOutput: ConsoleFormat.count(route?.maxOutputTokens),
                inputPrice: ConsoleFormat.price(route?.pricing?.input),
                outputPrice: ConsoleFormat.price(route?.pricing?.output),
                modalities: route.map(Self.modalities) ?? "—",
                capabilities: route.map { Self.capabilityNames($0.capabilities) } ?? [],
                routes: Set(model.routes.map(\.provider.name)).sorted().joined(separator: ", ")
            )
        }
        return CatalogPage(
            chrome: chrome,
            query: query,
            count: rows.count,
            capabilities: CatalogPage.capabilityFilters.map {
                .init(value: $0.key, label: $0.label, selected: $0.key == capability)
            },
            sorts: CatalogPage.sortOrders.map { .init(value: $0.key, label: $0.label, selected: $0.key == sort) },
            rows: rows
        )
    }

    // MARK: Model

    func model(_ id: String, chrome: Chrome, baseURL: String) -> ModelPage? {
        guard let model = self.models.resolve(id), let primary = model.routes.first else { return nil }
        let facts = primary.catalogModel
        let warnings = Self.warnings(model)
        let routes = model.routes.map { route in
            ModelPage.RouteRow(
                provider: route.provider.name,
                upstream: route.upstreamModel,
                input: ConsoleFormat.price(route.pricing?.input),
                cachedInput: ConsoleFormat.price(route.pricing?.cachedInput),
                output: ConsoleFormat.price(route.pricing?.output),
                context: ConsoleFormat.count(route.contextWindow),
                maxOutput: ConsoleFormat.count(route.maxOutputTokens),
                zdr: route.zeroDataRetention ? "yes" : "no",
                limits: route.limits.map(PolicyView.text).flatMap { $0.isEmpty ? nil : $0 } ?? "—"
            )
        }
        var stats: [ModelPage.StatsRow] = []
        for route in model.routes {
            let summary = self.statistics.state(route.label)?.summary
            let trends = self.statistics.trends(route.label)
            for (name, _) in RouteStatistics.windows {
                let window = summary?.windows.first { $0.window == name } ?? WindowStatistics(window: name)
                let points = trends[name] ?? []
                stats.append(
                    ModelPage.StatsRow(
                        route: route.label,
                        window: name,
                        calls: ConsoleFormat.count(window.calls),
                        tps: window.tokensPerSecondP50.map { ConsoleFormat.decimal($0, digits: 1) } ?? "—",
                        ttft: "\(ConsoleFormat.milliseconds(window.timeToFirstTokenMs.p50)) / "
                            + ConsoleFormat.milliseconds(window.timeToFirstTokenMs.p95),
                        success: ConsoleFormat.percent(window.successRate),
                        uptime: ConsoleFormat.percent(window.uptime),
                        successSpark: SVGChart.sparkline(
                            points.map(\.successRate),
                            label: "success rate of \(route.label) over \(name)"
                        ),
                        ttftSpark: SVGChart.sparkline(
                            points.map(\.timeToFirstTokenP50),
                            label: "median time to first token of \(route.label) over \(name)"
                        ),
                        tpsSpark: SVGChart.sparkline(
                            points.map(\.tokensPerSecondP50),
                            label: "median tokens per second of \(route.label) over \(name)"
                        )
                    )
                )
            }
        }
        return ModelPage(
            chrome: chrome,
            id: model.publicName,
            name: facts?.name,
            kind: (model.kind ?? .chat).rawValue,
            context: ConsoleFormat.count(primary.contextWindow),
            maxOutput: ConsoleFormat.count(primary.maxOutputTokens),
            prices: primary.pricing.map {
                "input \(ConsoleFormat.price($0.input)), cached input \(ConsoleFormat.price($0.cachedInput)), "
                    + "output \(ConsoleFormat.price($0.output))"
            } ?? "unknown (cost is reported as 0)",
            modalities: Self.modalities(primary),
            cutoff: facts?.knowledgeCutoff ?? "—",
            strategy: model.strategyName,
            capabilities: Self.capabilityNames(primary.capabilities),
            parameters: primary.supportedParameters,
            hasWarnings: !warnings.isEmpty,
            warnings: warnings,
            routes: routes,
            stats: stats,
            snippets: Self.snippets(model: model.publicName, baseURL: baseURL, kind: model.kind ?? .chat)
        )
    }

    /// What a caller could trip over, from the catalog facts of the model's routes.
    static func warnings(_ model: ResolvedModel) -> [String] {
        guard let primary = model.routes.first else { return [] }
        var warnings: [String] = []
        let others = model.routes.dropFirst()
        if primary.capabilities.vision {
            let blind = others.filter { !$0.capabilities.vision }.map(\.label)
            if !blind.isEmpty {
                warnings.append(
                    "No image input on \(blind.joined(separator: ", ")): calls with images skip those routes."
                )
            }
        } else if model.kind != .embedding {
            warnings.append("No image input: image content parts are refused.")
        }
        if let context = primary.contextWindow, let output = primary.maxOutputTokens, output * 8 <= context {
            warnings.append(
                "Output is limited to \(ConsoleFormat.count(output)) tokens although the context window is "
                    + "\(ConsoleFormat.count(context)): long answers are cut there."
            )
        }
        let windows = Set(model.routes.compactMap(\.contextWindow))
        if windows.count > 1, let smallest = windows.min() {
            let small = model.routes.filter { $0.contextWindow == smallest }.map(\.label)
            warnings.append(
                "Context windows differ by route: \(small.joined(separator: ", ")) take(s) "
                    + "\(ConsoleFormat.count(smallest)) tokens, so long prompts go only to the others."
            )
        }
        if model.kind != .embedding {
            if !primary.capabilities.jsonSchema {
                warnings.append(
                    primary.capabilities.jsonMode
                        ? "No JSON-schema structured output: JSON mode (json_object) only."
                        : "No structured output: response_format is refused."
                )
            }
            if !primary.capabilities.tools { warnings.append("No tool calling: requests with tools are refused.") }
            if primary.capabilities.reasoning {
                warnings.append("A reasoning model: reasoning tokens are billed as output and add latency.")
            }
        }
        if model.routes.contains(where: { $0.pricing == nil }) {
            warnings.append("Some routes have no known prices: their calls report a cost of 0.")
        }
        if model.routes.contains(where: { $0.provider.inventsAnswers }) {
            warnings.append("Answered by the built-in simulator: the text is invented, for trying the gateway out.")
        }
        let retained = model.routes.filter { !$0.zeroDataRetention }
        if !retained.isEmpty && retained.count < model.routes.count {
            warnings.append("Zero data retention holds on some routes only.")
        }
        return warnings
    }

    /// curl, Python (openai), TypeScript (openai) and Anthropic SDK snippets for `model` at `baseURL`.
    static func snippets(model: String, baseURL: String, kind: CatalogModel.Kind) -> [ModelPage.Snippet] {
        let name = Self.jsonString(model)
        if kind == .embedding {
            return [
                .init(
                    id: "snippet-curl",
                    title: "curl",
                    code: """
                        curl \(baseURL)/v1/embeddings \\
                          -H "Authorization: Bearer $SWITCHYARD_KEY" \\
                          -H "Content-Type: application/json" \\
                          -d '{"model": \(name), "input": "railway switchyards"}'
                        """
                ),
                .init(
                    id: "snippet-python",
                    title: "Python (openai)",
                    code: """
                        import os
                        from openai import OpenAI

                        client = OpenAI(base_url="\(baseURL)/v1", api_key=os.environ["SWITCHYARD_KEY"])
                        vector = client.embeddings.create(model=\(name), input="railway switchyards")
                        print(len(vector.data[0].embedding))
                        """
                ),
            ]
        }
        return [
            .init(
                id: "snippet-curl",
                title: "curl",
                code: """
                    curl \(baseURL)/v1/chat/completions \\
                      -H "Authorization: Bearer $SWITCHYARD_KEY" \\
                      -H "Content-Type: application/json" \\
                      -d '{"model": \(name), "messages": [{"role": "user", "content": "Hello!"}]}'
                    """
            ),
            .init(
                id: "snippet-python",
                title: "Python (openai)",
                code: """
                    import os
                    from openai import OpenAI

                    client = OpenAI(base_url="\(baseURL)/v1", api_key=os.environ["SWITCHYARD_KEY"])
                    reply = client.chat.completions.create(
                        model=\(name),
                        messages=[{"role": "user", "content": "Hello!"}],
                    )
                    print(reply.choices[0].message.content, reply.usage)
                    """
            ),
            .init(
                id: "snippet-typescript",
                title: "TypeScript (openai)",
                code: """
                    import OpenAI from "openai";

                    const client = new OpenAI({ baseURL: "\(baseURL)/v1", apiKey: process.env.SWITCHYARD_KEY });
                    const reply = await client.chat.completions.create({
                      model: \(name),
                      messages: [{ role: "user", content: "Hello!" }],
                    });
                    console.log(reply.choices[0].message.content);
                    """
            ),
            .init(
                id: "snippet-anthropic",
                title: "Python (anthropic)",
                code: """
                    import os
                    import anthropic

                    client = anthropic.Anthropic(base_url="\(baseURL)", api_key=os.environ["SWITCHYARD_KEY"])
                    message = client.messages.create(
                        model=\(name),
                        max_tokens=1024,
                        messages=[{"role": "user", "content": "Hello!"}],
                    )
                    print(message.content[0].text)
                    """
            ),
        ]
    }

    // MARK: Logs

    func logs(chrome: Chrome, query: RequestLogQuery, form: [String: String]) async throws -> LogsPage {
        let records = try await self.store.records(matching: query)
        let rows = records.map { record in
            LogsPage.Row(
                id: record.id,
                time: ConsoleFormat.time(record.startedAt),
                model: record.model ?? "—",
                route: [record.provider, record.upstreamModel].compactMap { $0 }.joined(separator: "/"),
                key: record.keyName ?? "—",
                status: record.status,
                statusClass: record.status / 100,
                tokens: "\(ConsoleFormat.count(record.inputTokens)) / \(ConsoleFormat.count(record.outputTokens))",
                cost: record.costUSD.map(ConsoleFormat.usd) ?? "—",
                latency: ConsoleFormat.milliseconds(record.latencyMs),
                ttft: ConsoleFormat.milliseconds(record.timeToFirstTokenMs)
            )
        }
        let filters = ["q", "model", "key", "status"].compactMap { name in
            form[name].flatMap { $0.isEmpty ? nil : "\(name)=\(Self.queryEscape($0))" }
        }
        let exportQuery = filters.isEmpty ? "" : "&" + filters.joined(separator: "&")
        var older: String?
        if records.count == query.limit, let last = records.last {
            older = (filters + ["before=\(ConsoleFormat.decimal(last.startedAt.timeIntervalSince1970, digits: 6))"])
                .joined(separator: "&")
        }
        return LogsPage(
            chrome: chrome,
            q: form["q"] ?? "",
            model: form["model"] ?? "",
            key: form["key"] ?? "",
            status: form["status"] ?? "",
            exportQuery: exportQuery,
            rows: rows,
            older: older
        )
    }

    func log(_ id: String, chrome: Chrome) async throws -> LogPage? {
        guard let record = try await self.store.records(matching: RequestLogQuery(id: id, limit: 1)).first else {
            return nil
        }
        let fields: [(String, String?)] = [
            ("Started (UTC)", ConsoleFormat.time(record.startedAt)),
            ("Endpoint", record.endpoint), ("Model", record.model), ("Provider", record.provider),
            ("Upstream model", record.upstreamModel), ("Status", String(record.status)),
            ("Streamed", record.isStreaming ? "yes" : "no"), ("Attempts", String(record.attempts)),
            ("Key", record.keyName), ("Team", record.team), ("Provider key", record.credential),
            ("Input tokens", ConsoleFormat.count(record.inputTokens)),
            ("Cached input tokens", ConsoleFormat.count(record.cachedInputTokens)),
            ("Output tokens", ConsoleFormat.count(record.outputTokens)),
            ("Cost", record.costUSD.map(ConsoleFormat.usd)), ("Latency", ConsoleFormat.milliseconds(record.latencyMs)),
            ("Time to first token", ConsoleFormat.milliseconds(record.timeToFirstTokenMs)),
            ("Cache", record.cacheStatus),
            ("Route reason", record.routeReason), ("Error", record.error),
        ]
        let hasBodies = record.requestBody != nil || record.responseBody != nil
        return LogPage(
            chrome: chrome,
            id: record.id,
            fields: fields.compactMap { name, value in value.map { LogPage.Field(name: name, value: $0) } },
            requestBody: record.requestBody,
            responseBody: record.responseBody,
            bodyNote: hasBodies
                ? "Not kept."
                : "Hidden: bodies are not kept for this call (zero data retention, or `request_log.bodies: false`)."
        )
    }

    // MARK: Spend

    func spend(chrome: Chrome, by dimension: SpendDimension, days: Int, now: Date = Date()) async throws -> SpendPage {
        let since = Calendar.utc.startOfDay(for: now).addingTimeInterval(-Double(days - 1) * 86_400)
        let rows = try await self.spend?.spend(SpendQuery(groupBy: [.day, dimension], since: since)) ?? []
        let dayNames = (0..<days).map { offset in
            ConsoleFormat.day(since.addingTimeInterval(Double(offset) * 86_400))
        }
        var totals: [String: SpendRow] = [:]
        for row in rows {
            let name = Self.name(of: row, dimension) ?? "—"
            var total = totals[name] ?? SpendRow(calls: 0, inputTokens: 0, outputTokens: 0, costUSD: 0)
            total.calls += row.calls
            total.inputTokens += row.inputTokens
            total.outputTokens += row.outputTokens
            total.costUSD += row.costUSD
            total.savedUSD += row.savedUSD
            totals[name] = total
        }
        // The dearest series are drawn; the rest are one `other` series.
        let ranked = totals.sorted {
            ($0.value.costUSD, $0.value.calls, $1.key) > ($1.value.costUSD, $1.value.calls, $0.key)
        }
        let drawn = Array(ranked.prefix(SVGChart.palette.count - 1).map(\.key))
        func series(_ value: (SpendRow) -> Double) -> [(name: String, values: [Double])] {
            var byName: [String: [Double]] = [:]
            for row in rows {
                let name = Self.name(of: row, dimension) ?? "—"
                let key = drawn.contains(name) ? name : "other"
                guard let day = row.day, let index = dayNames.firstIndex(of: day) else { continue }
                byName[key, default: Array(repeating: 0, count: days)][index] += value(row)
            }
            return (drawn + (ranked.count > drawn.count ? ["other"] : [])).compactMap { name in
                byName[name].map { (name, $0) }
            }
        }
        let label = Self.dimensionLabels[dimension] ?? dimension.rawValue
        return SpendPage(
            chrome: chrome,
            days: days,
            total: ConsoleFormat.usd(totals.values.reduce(0) { $0 + $1.costUSD }),
            saved: ConsoleFormat.usd(totals.values.reduce(0) { $0 + $1.savedUSD }),
            dimensions: [SpendDimension.model, .key, .team].map {
                .init(value: $0.rawValue, label: Self.dimensionLabels[$0] ?? $0.rawValue, selected: $0 == dimension)
            },
            ranges: [7, 14, 30, 90].map { .init(value: String($0), label: String($0), selected: $0 == days) },
            byLabel: label,
            costChart: SVGChart.stackedBars(
                categories: dayNames,
                series: series { $0.costUSD },
                label: "cost per day by \(label)",
                format: ConsoleFormat.usd
            ),
            callsChart: SVGChart.stackedBars(
                categories: dayNames,
                series: series { Double($0.calls) },
                label: "calls per day by \(label)",
                format: { ConsoleFormat.count(Int($0)) }
            ),
            totals: ranked.map { name, row in
                SpendPage.Total(
                    name: name,
                    calls: ConsoleFormat.count(row.calls),
                    input: ConsoleFormat.count(row.inputTokens),
                    output: ConsoleFormat.count(row.outputTokens),
                    cost: ConsoleFormat.usd(row.costUSD),
                    saved: ConsoleFormat.usd(row.savedUSD)
                )
            },
            budgets: try await self.budgets(now: now)
        )
    }

    /// Where each key's and team's budget stands.
    private func budgets(now: Date) async throws -> [SpendPage.Budget] {
        guard let keys = self.keys, let quotas = self.quotas, let ledger = self.ledger else { return [] }
        var budgets: [SpendPage.Budget] = []
        let owners: [(String, String, Budget?)] =
            keys.all.filter { $0.revokedAt == nil }.map { ("key \($0.name)", "key:\($0.id)", $0.budget) }
            + keys.teams.map { ("team \($0.name)", "team:\($0.name)", $0.policy.budget) }
        for (name, counter, budget) in owners {
            guard let budget,
                let status = try await PolicyView.status(
                    of: budget,
                    counter: counter,
                    store: quotas,
                    ledger: ledger,
                    now: now
                )
            else { continue }
            budgets.append(
                SpendPage.Budget(
                    name: name,
                    budget: ConsoleFormat.usd(budget.usd),
                    period: budget.period.rawValue,
                    spent: ConsoleFormat.usd(status.spentUSD),
                    remaining: ConsoleFormat.usd(status.remainingUSD)
                )
            )
        }
        return budgets
    }

    static let dimensionLabels: [SpendDimension: String] = [.model: "model", .key: "key", .team: "team", .day: "day"]

    private static func name(of row: SpendRow, _ dimension: SpendDimension) -> String? {
        switch dimension {
        case .model: row.model
        case .key: row.key
        case .team: row.team
        case .day: row.day
        }
    }

    // MARK: Keys

    func keysPage(chrome: Chrome, session: ConsoleSession, secret: KeysPage.Secret?, error: String?) -> KeysPage {
        let now = Date()
        let rows = (self.keys?.all ?? []).sorted { $0.createdAt > $1.createdAt }.map { key in
            let expired = key.expiresAt.map { $0 <= now } ?? false
            return KeysPage.Row(
                id: key.id,
                name: key.name,
                role: key.role.rawValue,
                team: key.team ?? "—",
                models: key.models?.joined(separator: ", ") ?? "all",
                budget: key.budget.map { "\(ConsoleFormat.usd($0.usd)) \($0.period.rawValue)" } ?? "—",
                created: ConsoleFormat.time(key.createdAt),
                state: key.revokedAt != nil ? "revoked" : expired ? "expired" : "active",
                active: key.revokedAt == nil && !expired
            )
        }
        return KeysPage(
            chrome: chrome,
            csrf: chrome.csrf,
            canChange: session.isAdmin,
            secret: secret,
            error: error,
            rows: rows
        )
    }

    // MARK: Helpers

    /// The capabilities a route has, by their catalog names.
    static func capabilityNames(_ capabilities: Capabilities) -> [String] {
        [
            ("streaming", capabilities.streaming), ("tools", capabilities.tools), ("vision", capabilities.vision),
            ("json_mode", capabilities.jsonMode), ("json_schema", capabilities.jsonSchema),
            ("prompt_caching", capabilities.promptCaching), ("reasoning", capabilities.reasoning),
        ]
        .filter(\.1).map(\.0)
    }

    /// `text, image → text`.
    static func modalities(_ route: Route) -> String {
        "\(route.modalities.input.joined(separator: ", ")) → \(route.modalities.output.joined(separator: ", "))"
    }

    /// The console path of a model (`/` in `provider/model` kept: the route takes the rest of the path).
    static func path(_ model: String) -> String {
        model.split(separator: "/", omittingEmptySubsequences: false).map { Self.queryEscape(String($0)) }
            .joined(separator: "/")
    }

    /// Percent-encodes everything but unreserved characters.
    static func queryEscape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? ""
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    )

    /// `text` as a JSON string literal (quotes included), for snippets.
    static func jsonString(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

extension Calendar {
    /// The Gregorian calendar in UTC.
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
