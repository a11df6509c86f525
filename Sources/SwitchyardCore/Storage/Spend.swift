// SPDX-License-Identifier: Apache-2.0

import Foundation

/// How spend is grouped (`GET /admin/spend?group_by=team,key,model,day`).
public enum SpendDimension: String, Sendable, CaseIterable, Codable {
    /// The caller's team.
    case team
    /// The virtual key (its id), or the key's name for configured keys and the master key.
    case key
    /// The public model asked for.
    case model
    /// The UTC day the call started (`YYYY-MM-DD`).
    case day
}

/// Which calls a spend report covers.
public struct SpendQuery: Sendable, Equatable {
    /// The groups, in order.
    public var groupBy: [SpendDimension]
    /// Only this virtual key.
    public var keyID: String?
    /// Only this team.
    public var team: String?
    /// Calls started at or after this time.
    public var since: Date?
    /// Calls started before this time.
    public var until: Date?

    /// Creates a query.
    public init(
        groupBy: [SpendDimension],
        keyID: String? = nil,
        team: String? = nil,
        since: Date? = nil,
        until: Date? = nil
    ) {
        self.groupBy = groupBy
        self.keyID = keyID
        self.team = team
        self.since = since
        self.until = until
    }
}

/// One group of a spend report: the group's values and its totals.
public struct SpendRow: Sendable, Codable, Equatable {
    /// The team, when grouped by team.
    public var team: String?
    /// The key (id, or name for keys without one), when grouped by key.
    public var key: String?
    /// The model, when grouped by model.
    public var model: String?
    /// The UTC day, when grouped by day.
    public var day: String?
    /// Calls.
    public var calls: Int
    /// Prompt tokens.
    public var inputTokens: Int
    /// Completion tokens.
    public var outputTokens: Int
    /// Cost in USD of the calls whose routes have prices.
    public var costUSD: Double
    /// What cache hits saved, in USD.
    public var savedUSD: Double = 0

    /// Creates a row.
    public init(
        team: String? = nil,
        key: String? = nil,
        model: String? = nil,
        day: String? = nil,
        calls: Int,
        inputTokens: Int,
        outputTokens: Int,
        costUSD: Double
    ) {
        self.team = team
        self.key = key
        self.model = model
        self.day = day
        self.calls = calls
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
    }

    enum CodingKeys: String, CodingKey {
        case team, key, model, day, calls
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
        case costUSD = "cost_usd"
        case savedUSD = "saved_usd"
    }
}

/// Spend aggregated from the request log, on every backend.
public protocol SpendStore: Sendable {
    /// The groups of `query`, ordered by the group values.
    func spend(_ query: SpendQuery) async throws -> [SpendRow]
}

extension SpendQuery {
    /// A value bound to a spend query's placeholder.
    public enum Argument: Sendable, Equatable {
        /// A number (times).
        case number(Double)
        /// Text (a key id, a team).
        case text(String)
    }

    /// The SQL of the report on `request_log`, in the backend's dialect: `day` is its expression for
    /// the UTC day of `started_at`, `placeholder(n)` its n-th (1-based) parameter, `cast(e, type)` its
    /// cast (`BIGINT` or `DOUBLE PRECISION`). Columns: `g0`… for the groups, then calls, input and
    /// output tokens, cost and the cache's savings.
    public func sql(
        day: String,
        placeholder: (Int) -> String,
        cast: (String, String) -> String
    ) -> (sql: String, arguments: [Argument]) {
        Self.report(
            table: "request_log",
            range: (
                "started_at", self.since?.timeIntervalSince1970 ?? 0,
                self.until?.timeIntervalSince1970 ?? .greatestFiniteMagnitude
            ),
            filters: [("key_id", self.keyID), ("team", self.team)],
            groups: self.columns(day: day),
            sums: ["count(*)", "sum(input_tokens)", "sum(output_tokens)", "sum(cost_usd)", "sum(cache_saved_usd)"],
            having: nil,
            placeholder: placeholder,
            cast: cast
        )
    }

    /// `SELECT` groups and the five totals from `table`, within `range` and the equality `filters`.
    private static func report(
        table: String,
        range: (column: String, from: Double, to: Double),
        filters: [(column: String, value: String?)],
        groups: [String],
        sums: [String],
        having: String?,
        placeholder: (Int) -> String,
        cast: (String, String) -> String
    ) -> (sql: String, arguments: [Argument]) {
        var arguments: [Argument] = [.number(range.from), .number(range.to)]
        var conditions = ["\(range.column) >= \(placeholder(1))", "\(range.column) < \(placeholder(2))"]
        for (column, value) in filters {
            guard let value else { continue }
            arguments.append(.text(value))
            conditions.append("\(column) = \(placeholder(arguments.count))")
        }
        let types = ["BIGINT", "BIGINT", "BIGINT", "DOUBLE PRECISION", "DOUBLE PRECISION"]
        let selected =
            groups.enumerated().map { "\($1) AS g\($0)" } + zip(sums, types).map { cast("COALESCE(\($0), 0)", $1) }
        let names = groups.indices.map { "g\($0)" }.joined(separator: ", ")
        let grouping =
            groups.isEmpty ? "" : " GROUP BY \(names)\(having.map { " HAVING \($0)" } ?? "") ORDER BY \(names)"
        let filter = conditions.joined(separator: " AND ")
        return ("SELECT \(selected.joined(separator: ", ")) FROM \(table) WHERE \(filter)\(grouping)", arguments)
    }

    /// Whether the daily rollup (`spend_daily`) answers this report: it starts and ends on UTC day
    /// boundaries (or is open).
    public var fitsDailyRollup: Bool {
        [self.since, self.until].allSatisfy { date in
            date.map { $0.timeIntervalSince1970.truncatingRemainder(dividingBy: 86_400) == 0 } ?? true
        }
    }

    /// The report's SQL on the daily rollup, for a query that ``fitsDailyRollup``: the same columns
    /// as ``sql(day:placeholder:cast:)``, with `day` the backend's expression for the text of the
    /// rollup's `day` (days since 1970).
    public func rollupSQL(
        day: String,
        placeholder: (Int) -> String,
        cast: (String, String) -> String
    ) -> (sql: String, arguments: [Argument]) {
        let groups = self.groupBy.map { dimension in
            switch dimension {
            case .team: "NULLIF(team, '')"
            case .key: "NULLIF(spend_key, '')"
            case .model: "NULLIF(model, '')"
            case .day: day
            }
        }
        return Self.report(
            table: "spend_daily",
            range: (
                "day", ((self.since?.timeIntervalSince1970 ?? 0) / 86_400).rounded(.down),
                self.until.map { ($0.timeIntervalSince1970 / 86_400).rounded(.down) } ?? 1e15
            ),
            filters: [("spend_key", self.keyID), ("team", self.team)],
            groups: groups,
            sums: ["sum(calls)", "sum(input_tokens)", "sum(output_tokens)", "sum(cost_usd)", "sum(saved_usd)"],
            // Rows emptied by deleted calls stay at zero: they are left out.
            having: "sum(calls) > 0",
            placeholder: placeholder,
            cast: cast
        )
    }

    /// The SQL column for each dimension; `day` differs between backends and is passed in.
    func columns(day: String) -> [String] {
        self.groupBy.map { dimension in
            switch dimension {
            case .team: "team"
            case .key: "COALESCE(key_id, key_name)"
            case .model: "model"
            case .day: day
            }
        }
    }

    /// A row from the group values (in `groupBy` order) and totals.
    public func row(values: [String?], calls: Int, input: Int, output: Int, cost: Double, saved: Double = 0) -> SpendRow
    {
        var row = SpendRow(calls: calls, inputTokens: input, outputTokens: output, costUSD: cost)
        row.savedUSD = saved
        for (dimension, value) in zip(self.groupBy, values) {
            switch dimension {
            case .team: row.team = value
            case .key: row.key = value
            case .model: row.model = value
            case .day: row.day = value
            }
        }
        return row
    }
}
