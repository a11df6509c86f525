// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore

/// The answer to a call: metadata known when the answer starts, and its body.
///
/// Stages that need the final outcome (usage, cost, errors in a stream) add a hook with
/// ``onFinish(_:)``. The server runs the hooks once the outcome is known: for a complete body
/// just before it is written (so head and body leave in one write), for a stream after its last
/// byte, so a stream is never buffered to be inspected.
public struct Reply: Sendable {
    /// The provider that answered (`x-switchyard-provider`).
    public var provider: String
    /// The upstream model that answered (`x-switchyard-model`).
    public var model: String
    /// Every upstream attempt, in order.
    public var attempts: [Attempt]
    /// Whether a cache answered.
    public var cacheStatus: CacheStatus
    /// The body.
    public var body: Body
    /// Whether bodies must be kept out of the request log.
    public var zeroDataRetention: Bool
    /// How the routes were chosen (`x-switchyard-route-reason`).
    public var routeReason: String?
    /// What the cached answer cost when it was first made: what a cache hit saved.
    public var savedCost: Double?
    /// Whether a `fallbacks` model answered instead of the one asked for (the cache keeps no such answer).
    public var fromFallbackModel = false
    private var hooks: [@Sendable (Receipt) -> Void] = []

    /// A reply body.
    public enum Body: Sendable {
        /// A complete JSON body with its usage and cost.
        case complete(ByteBuffer, usage: TokenUsage?, cost: Double?)
        /// Server-sent events relayed as they arrive.
        case stream(ChatStream)
    }

    /// Creates a reply.
    public init(
        provider: String,
        model: String,
        attempts: [Attempt],
        cacheStatus: CacheStatus = .bypass,
        body: Body,
        zeroDataRetention: Bool = false
    ) {
        self.provider = provider
        self.model = model
        self.attempts = attempts
        self.cacheStatus = cacheStatus
        self.body = body
        self.zeroDataRetention = zeroDataRetention
    }

    /// This reply with `hook` added; hooks run in the order added, once the outcome is known.
    ///
    /// Hooks must only enqueue work: they run on the request's task.
    public func onFinish(_ hook: @escaping @Sendable (Receipt) -> Void) -> Reply {
        var copy = self
        copy.hooks.append(hook)
        return copy
    }

    /// Runs the hooks with `receipt`; the server calls this once: before writing a complete body,
    /// after the last byte of a stream.
    public func finish(_ receipt: Receipt) {
        for hook in self.hooks { hook(receipt) }
    }
}

/// Whether and how a cache answered (`x-switchyard-cache`).
public enum CacheStatus: String, Sendable, Codable {
    /// The cache was consulted and had no answer.
    case miss
    /// An exact cached answer.
    case hit
    /// A cached answer to a similar request.
    case semanticHit = "semantic-hit"
    /// The cache was not consulted.
    case bypass

    /// Whether a cache answered (no upstream call was made).
    public var isHit: Bool { self == .hit || self == .semanticHit }
}

/// One upstream attempt, kept for headers, logs and error messages.
public struct Attempt: Sendable, Equatable, Codable {
    /// `provider/model`.
    public var route: String
    /// `nil` on success, else what went wrong.
    public var failure: String?
    /// What only the operator may see about the failure (an upstream address); never sent to clients.
    public var detail: String?
    /// Whose provider key it used: `team` (the caller's team brought its own) or `gateway`.
    public var credential: String?
    /// The configured provider it went to (route labels cannot be split: provider names may hold `/`).
    public var provider: String?
    /// The failure class (``ProviderError/typeLabel``, or `cancelled` for a hedge that lost), for metrics.
    public var errorType: String?

    /// Creates an attempt record.
    public init(
        route: String,
        provider: String? = nil,
        failure: String? = nil,
        errorType: String? = nil,
        detail: String? = nil,
        credential: String? = nil
    ) {
        self.route = route
        self.provider = provider
        self.failure = failure
        self.errorType = errorType
        self.detail = detail
        self.credential = credential
    }
}

/// What a finished reply amounted to: the input of logging and accounting.
public struct Receipt: Sendable {
    /// The reply's metadata.
    public var provider: String
    /// Upstream model.
    public var model: String
    /// Attempts made.
    public var attempts: [Attempt]
    /// Cache status.
    public var cacheStatus: CacheStatus
    /// HTTP status sent.
    public var status: Int
    /// Token usage, if reported.
    public var usage: TokenUsage?
    /// Cost in USD, if the route has prices.
    public var cost: Double?
    /// Time from receiving the request to the first streamed token.
    public var timeToFirstToken: Duration?
    /// Time from receiving the request to the last byte.
    public var latency: Duration
    /// What went wrong after the reply started (a broken stream), if anything.
    public var error: String?
    /// The bytes sent to the client (possibly truncated), for the request log.
    public var responseBody: [UInt8]?
    /// How the routes were chosen.
    public var routeReason: String?
    /// The client went away before the reply finished (not the route's fault).
    public var clientDisconnected = false
    /// The `finish_reason`s a traced stream carried (``FinishReasons``); empty when not traced.
    public var finishReasons: [String] = []
    /// What a cache hit saved (the cached answer's original cost).
    public var savedCost: Double?

    /// Creates a receipt.
    public init(
        provider: String,
        model: String,
        attempts: [Attempt],
        cacheStatus: CacheStatus,
        status: Int,
        usage: TokenUsage?,
        cost: Double?,
        timeToFirstToken: Duration?,
        latency: Duration,
        error: String?,
        responseBody: [UInt8]?,
        routeReason: String? = nil
    ) {
        self.provider = provider
        self.model = model
        self.attempts = attempts
        self.cacheStatus = cacheStatus
        self.status = status
        self.usage = usage
        self.cost = cost
        self.timeToFirstToken = timeToFirstToken
        self.latency = latency
        self.error = error
        self.responseBody = responseBody
        self.routeReason = routeReason
    }
}
