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
    }
}

/// Spend aggregated from the request log, on every backend.
public protocol SpendStore: Sendable {
    /// The groups of `query`, ordered by the group values.
    func spend(_ query: SpendQuery) async throws -> [SpendRow]
}

extension SpendQuery {
    /// The SQL column for each dimension; `day` differs between backends and is passed in.
    public func columns(day: String) -> [String] {
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
    public func row(values: [String?], calls: Int, input: Int, output: Int, cost: Double) -> SpendRow {
        var row = SpendRow(calls: calls, inputTokens: input, outputTokens: output, costUSD: cost)
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
