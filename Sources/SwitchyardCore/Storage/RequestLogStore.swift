// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One row of the request log: what was asked, who answered, what it cost.
public struct RequestLogRecord: Sendable, Codable, Equatable {
    /// The request id (`x-switchyard-request-id`).
    public var id: String
    /// When the request arrived.
    public var startedAt: Date
    /// When the last byte was sent.
    public var finishedAt: Date
    /// The caller's key name.
    public var keyName: String?
    /// `chat.completions` or `embeddings`.
    public var endpoint: String
    /// The public model asked for.
    public var model: String?
    /// The provider that answered.
    public var provider: String?
    /// The upstream model that answered.
    public var upstreamModel: String?
    /// HTTP status sent to the client.
    public var status: Int
    /// Whether the response was streamed.
    public var isStreaming: Bool
    /// Upstream attempts made.
    public var attempts: Int
    /// Input tokens (cached included).
    public var inputTokens: Int?
    /// Cached input tokens.
    public var cachedInputTokens: Int?
    /// Output tokens.
    public var outputTokens: Int?
    /// Cost in USD.
    public var costUSD: Double?
    /// Total latency in milliseconds.
    public var latencyMs: Double
    /// Time to first token in milliseconds (streams).
    public var timeToFirstTokenMs: Double?
    /// `miss`, `hit`, `semantic-hit` or `bypass`.
    public var cacheStatus: String
    /// What went wrong, if anything.
    public var error: String?
    /// The client's body, unless zero data retention applies.
    public var requestBody: String?
    /// The body sent back, unless zero data retention applies.
    public var responseBody: String?
    /// How the routes were chosen (`x-switchyard-route-reason`), once routing ran.
    public var routeReason: String?
    /// The virtual key's id, for calls made with one.
    public var keyID: String?
    /// The caller's team, if any.
    public var team: String?
    /// Whose provider key served the answer: `team` (the team's own) or `gateway`; `nil` without one.
    public var credential: String?
    /// What a cache hit saved: the cost of the call that made the cached answer.
    public var savedUSD: Double?

    enum CodingKeys: String, CodingKey {
        case id, endpoint, model, provider, status, attempts, error
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case keyName = "key_name"
        case upstreamModel = "upstream_model"
        case isStreaming = "stream"
        case inputTokens = "input_tokens"
        case cachedInputTokens = "cached_input_tokens"
        case outputTokens = "output_tokens"
        case costUSD = "cost_usd"
        case latencyMs = "latency_ms"
        case timeToFirstTokenMs = "ttft_ms"
        case cacheStatus = "cache"
        case requestBody = "request_body"
        case responseBody = "response_body"
        case routeReason = "route_reason"
        case keyID = "key_id"
        case team, credential
        case savedUSD = "cache_saved_usd"
    }

    /// Creates a record.
    public init(
        id: String,
        startedAt: Date,
        finishedAt: Date,
        keyName: String?,
        endpoint: String,
        model: String?,
        provider: String?,
        upstreamModel: String?,
        status: Int,
        isStreaming: Bool,
        attempts: Int,
        inputTokens: Int?,
        cachedInputTokens: Int?,
        outputTokens: Int?,
        costUSD: Double?,
        latencyMs: Double,
        timeToFirstTokenMs: Double?,
        cacheStatus: String,
        error: String?,
        requestBody: String?,
        responseBody: String?
    ) {
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.keyName = keyName
        self.endpoint = endpoint
        self.model = model
        self.provider = provider
        self.upstreamModel = upstreamModel
        self.status = status
        self.isStreaming = isStreaming
        self.attempts = attempts
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
        self.latencyMs = latencyMs
        self.timeToFirstTokenMs = timeToFirstTokenMs
        self.cacheStatus = cacheStatus
        self.error = error
        self.requestBody = requestBody
        self.responseBody = responseBody
    }
}

/// Filters for reading the request log (`GET /admin/logs`).
public struct RequestLogQuery: Sendable, Equatable {
    /// Only this public model.
    public var model: String?
    /// Only this key name.
    public var keyName: String?
    /// Only requests that started at or after this time.
    public var since: Date?
    /// Only requests that started before this time (the next page of a newest-first list).
    public var before: Date?
    /// Only this HTTP status.
    public var status: Int?
    /// Only requests whose id, model, upstream model, key name or error contains this (any case).
    public var search: String?
    /// Only the request with this id.
    public var id: String?
    /// When searching, look only at this many of the newest rows in the time range (a search that
    /// matches nothing otherwise reads the whole log).
    public var searchWindow: Int?
    /// At most this many rows, newest first.
    public var limit: Int

    /// Creates a query.
    public init(
        model: String? = nil,
        keyName: String? = nil,
        since: Date? = nil,
        before: Date? = nil,
        status: Int? = nil,
        search: String? = nil,
        id: String? = nil,
        limit: Int = 100
    ) {
        self.model = model
        self.keyName = keyName
        self.since = since
        self.before = before
        self.status = status
        self.search = search
        self.id = id
        self.limit = limit
    }

    /// Columns `search` looks in.
    static let searchedColumns = ["id", "model", "upstream_model", "key_name", "error"]

    /// The `WHERE` clause (empty when nothing filters) in a backend's dialect: `placeholder(n)` is
    /// its n-th (1-based) parameter and `like` its case-insensitive `LIKE` operator.
    public func sqlFilter(placeholder: (Int) -> String, like: String) -> (sql: String, arguments: [SpendQuery.Argument])
    {
        var conditions: [String] = []
        var arguments: [SpendQuery.Argument] = []
        func add(_ condition: (String) -> String, _ argument: SpendQuery.Argument) {
            arguments.append(argument)
            conditions.append(condition(placeholder(arguments.count)))
        }
        if let id = self.id { add({ "id = \($0)" }, .text(id)) }
        if let model = self.model { add({ "model = \($0)" }, .text(model)) }
        if let key = self.keyName { add({ "key_name = \($0)" }, .text(key)) }
        if let since = self.since { add({ "started_at >= \($0)" }, .number(since.timeIntervalSince1970)) }
        if let before = self.before { add({ "started_at < \($0)" }, .number(before.timeIntervalSince1970)) }
        if let status = self.status { add({ "status = \($0)" }, .number(Double(status))) }
        if let search = self.search, !search.isEmpty, let window = self.searchWindow, window > 0 {
            // The window's oldest row, found on the `started_at` index alone.
            var bounds: [String] = []
            for (operator_, date) in [(">=", self.since), ("<", self.before)] {
                guard let date else { continue }
                arguments.append(.number(date.timeIntervalSince1970))
                bounds.append("started_at \(operator_) \(placeholder(arguments.count))")
            }
            let range = bounds.isEmpty ? "" : "WHERE " + bounds.joined(separator: " AND ") + " "
            conditions.append(
                "started_at >= COALESCE((SELECT started_at FROM request_log \(range)"
                    + "ORDER BY started_at DESC LIMIT 1 OFFSET \(window - 1)), 0)"
            )
        }
        if let search = self.search, !search.isEmpty {
            // `%` and `_` in the text are literal: escaped, with `\` as the escape character.
            let escaped = search.replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            arguments.append(.text("%\(escaped)%"))
            let term = placeholder(arguments.count)
            let matches = Self.searchedColumns.map { "COALESCE(\($0), '') \(like) \(term) ESCAPE '\\'" }
            conditions.append("(" + matches.joined(separator: " OR ") + ")")
        }
        return (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), arguments)
    }

    /// Whether `record` passes the filters (for stores that filter in memory).
    public func matches(_ record: RequestLogRecord) -> Bool {
        guard self.id.map({ record.id == $0 }) ?? true, self.model.map({ record.model == $0 }) ?? true,
            self.keyName.map({ record.keyName == $0 }) ?? true, self.since.map({ record.startedAt >= $0 }) ?? true,
            self.before.map({ record.startedAt < $0 }) ?? true, self.status.map({ record.status == $0 }) ?? true
        else { return false }
        guard let search = self.search?.lowercased(), !search.isEmpty else { return true }
        return [record.id, record.model, record.upstreamModel, record.keyName, record.error].contains {
            $0?.lowercased().contains(search) ?? false
        }
    }
}

/// Durable storage for the request log.
public protocol RequestLogStore: Sendable {
    /// Writes `records` in one transaction.
    func append(_ records: [RequestLogRecord]) async throws
    /// Reads records matching `query`, newest first.
    func records(matching query: RequestLogQuery) async throws -> [RequestLogRecord]
    /// Throws if the store cannot be reached (`GET /ready`).
    func checkReachable() async throws
    /// Runs one bounded step of retention: deletes up to `limit` rows started before
    /// `policy.rowsBefore`, or else removes bodies from up to `limit` rows started before
    /// `policy.bodiesBefore`, or else deletes the `limit` oldest rows while the log takes more than
    /// `policy.maxBytes`. Returns how many rows it changed; 0 means nothing is left to do.
    ///
    /// Steps are small, separate transactions, so request log writes wait at most for one of them.
    func purgeStep(_ policy: RequestLogRetention, limit: Int) async throws -> Int
}

/// What the request log keeps: rows and bodies by age, and its size.
public struct RequestLogRetention: Sendable, Equatable {
    /// Rows that started before this are deleted.
    public var rowsBefore: Date
    /// Rows that started before this lose their bodies.
    public var bodiesBefore: Date
    /// Most bytes the log may take.
    public var maxBytes: Int

    /// Creates a policy.
    public init(rowsBefore: Date, bodiesBefore: Date, maxBytes: Int) {
        self.rowsBefore = rowsBefore
        self.bodiesBefore = bodiesBefore
        self.maxBytes = maxBytes
    }
}

/// Accepts request log records without waiting; a background writer persists them in batches.
public protocol RequestLogSink: Sendable {
    /// Queues `record` for writing. Never blocks and never fails the request.
    func enqueue(_ record: RequestLogRecord)
}
