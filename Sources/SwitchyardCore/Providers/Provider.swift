// SPDX-License-Identifier: Apache-2.0

import Logging
import NIOCore

/// An upstream that answers calls for the routes that name it.
///
/// A provider turns an OpenAI-shaped request into its own dialect, makes the call, and
/// answers in OpenAI's wire format (bytes, so OpenAI-compatible upstreams pass through
/// untouched). It makes exactly one attempt: retries and fallback belong to ``Dispatcher``.
///
/// ```swift
/// struct EchoProvider: Provider {
///     let name = "echo"
///     func chat(_ request: ChatRequest, on route: Route, context: UpstreamContext) async throws -> UpstreamResponse {
///         .complete(ByteBuffer(bytes: request.body))
///     }
///     func embeddings(_ request: EmbeddingsRequest, on route: Route, context: UpstreamContext) async throws -> UpstreamResponse {
///         throw ProviderError(kind: .invalidRequest, message: "no embeddings here")
///     }
/// }
/// ```
public protocol Provider: Sendable {
    /// The provider's name in the configuration, reported as `x-switchyard-provider`.
    var name: String { get }
    /// Whether its answers are invented (the simulator): such a provider plays only catalog models
    /// and never stands in for a real one.
    var inventsAnswers: Bool { get }
    /// How many API keys it rotates through on 429 (``UpstreamContext/keyIndex`` picks one).
    var keyCount: Int { get }
    /// Whether a call may bring its own API key for it (``UpstreamContext/ownKey``).
    var acceptsOwnKey: Bool { get }
    /// Makes one chat completion attempt; throws ``ProviderError`` on failure.
    func chat(_ request: ChatRequest, on route: Route, context: UpstreamContext) async throws -> UpstreamResponse
    /// Makes one embeddings attempt; throws ``ProviderError`` on failure.
    func embeddings(
        _ request: EmbeddingsRequest,
        on route: Route,
        context: UpstreamContext
    ) async throws
        -> UpstreamResponse
}

extension Provider {
    /// Real providers answer for real.
    public var inventsAnswers: Bool { false }
    /// One key, unless the provider says otherwise.
    public var keyCount: Int { 1 }
    /// Only providers that send a key header take a team's own key.
    public var acceptsOwnKey: Bool { false }
}

/// What a provider needs to know about the call beyond the request.
public struct UpstreamContext: Sendable {
    /// The gateway's request id, forwarded for correlation.
    public var requestID: String
    /// Time allowed until the response head arrives.
    public var firstTokenTimeout: Duration
    /// Time allowed to open a connection.
    public var connectTimeout: Duration
    /// Longest wait for the next bytes once the response has begun.
    public var idleTimeout: Duration
    /// Which of the provider's API keys to use (0 first; rotated on 429).
    public var keyIndex = 0
    /// The caller's team's own key for this provider, sent instead of the provider's (bring your own key).
    public var ownKey: String?
    /// W3C trace headers for the upstream request (`traceparent`), when the call is traced.
    public var traceHeaders: [(String, String)] = []

    /// `team` when the attempt sends the team's own key, else `gateway`.
    public var credential: String { self.ownKey == nil ? "gateway" : "team" }

    /// Creates a context; unspecified timeouts take the gateway defaults.
    public init(
        requestID: String,
        firstTokenTimeout: Duration,
        connectTimeout: Duration = Timeouts.defaults.connect ?? .seconds(5),
        idleTimeout: Duration = Timeouts.defaults.idle ?? .seconds(60)
    ) {
        self.requestID = requestID
        self.firstTokenTimeout = firstTokenTimeout
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
    }

    /// A context for a call on a route with `timeouts`; the first-token wait ends by `deadline` at the latest.
    public init(requestID: String, timeouts: Timeouts, deadline: ContinuousClock.Instant? = nil) {
        let firstToken = timeouts.firstToken ?? .seconds(60)
        self.init(
            requestID: requestID,
            firstTokenTimeout: deadline.map { min(firstToken, $0 - .now) } ?? firstToken,
            connectTimeout: timeouts.connect ?? .seconds(5),
            idleTimeout: timeouts.idle ?? .seconds(60)
        )
    }
}

/// A successful upstream answer in OpenAI's wire format.
public enum UpstreamResponse: Sendable {
    /// A complete JSON body.
    case complete(ByteBuffer)
    /// Server-sent event bytes, as they arrive.
    case stream(ByteStream)
}

/// Why an upstream attempt failed, in terms the dispatcher acts on.
public struct ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The failure class.
    public enum Kind: String, Sendable {
        /// 429: retry after a wait, then fall back.
        case rateLimited = "rate limited"
        /// 5xx: retry, then fall back.
        case server = "server error"
        /// No answer in time: retry, then fall back.
        case timeout
        /// Could not connect or the connection broke: retry, then fall back.
        case connection = "connection failed"
        /// The answer was not what the dialect promises: fall back.
        case invalidResponse = "invalid response"
        /// The route refused the call (bad provider key, unknown upstream model): fall back.
        case rejected
        /// The client's request is invalid: no other route will do better, so answer the client.
        case invalidRequest = "invalid request"
        /// The gateway itself has no room for the call (its upstream wait queue is full): try the
        /// next route; when every route is overloaded the client gets 503 with `Retry-After`.
        case overloaded = "gateway overloaded"
        /// The route's dialect cannot express something the request asks for (found before any
        /// upstream call): the route is skipped like one without a capability, and when no route is
        /// left the client gets 400 naming the feature and the routes considered.
        case unsupported = "not expressible"
    }

    /// The failure class.
    public var kind: Kind
    /// The upstream HTTP status, if one arrived.
    public var status: Int?
    /// What went wrong, safe to show the client (never includes credentials).
    public var message: String
    /// The upstream's `Retry-After`, if any.
    public var retryAfter: Duration?
    /// What only the operator may see (upstream addresses, socket errors): logged, never sent to the client.
    public var detail: String?
    /// The request field at fault, for `invalidRequest` and `unsupported`.
    public var param: String?

    /// Creates an error.
    public init(
        kind: Kind,
        status: Int? = nil,
        message: String,
        retryAfter: Duration? = nil,
        detail: String? = nil,
        param: String? = nil
    ) {
        self.kind = kind
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
        self.detail = detail
        self.param = param
    }

    /// A short, fixed name for the failure class: the `type` label of upstream error metrics and
    /// the `error.type` of traces.
    public var typeLabel: String {
        switch self.kind {
        case .rateLimited: "rate_limited"
        case .server: "server_error"
        case .timeout: "timeout"
        case .connection: "connection"
        case .invalidResponse: "invalid_response"
        case .rejected: "rejected"
        case .invalidRequest: "invalid_request"
        case .overloaded: "overloaded"
        case .unsupported: "unsupported"
        }
    }

    /// Whether trying the same route again may succeed.
    public var isRetryable: Bool {
        switch self.kind {
        case .rateLimited, .server, .timeout, .connection: true
        case .invalidResponse, .rejected, .invalidRequest, .overloaded, .unsupported: false
        }
    }

    /// Maps an upstream HTTP error status to a failure class.
    public static func kind(forStatus status: Int) -> Kind {
        switch status {
        case 429: .rateLimited
        case 408: .timeout
        case 400, 413, 422: .invalidRequest
        case 500...599: .server
        default: .rejected
        }
    }

    /// The error for an upstream's failed answer: the kind its status means, with its `Retry-After`.
    /// A `Retry-After` no server means (`inf`, negative) makes the answer malformed instead, so the
    /// next route is tried rather than this one waited for.
    public static func upstream(status: Int, headers: [(String, String)], message: String) -> ProviderError {
        let retryAfter = RetryAfter.read(headers)
        if case .invalid(let reason) = retryAfter {
            return ProviderError(kind: .invalidResponse, status: status, message: "\(message) (malformed \(reason))")
        }
        return ProviderError(
            kind: Self.kind(forStatus: status),
            status: status,
            message: message,
            retryAfter: retryAfter.wait
        )
    }

    /// `HTTP 500 (server error): message`.
    public var description: String {
        let head = self.status.map { "HTTP \($0) (\(self.kind.rawValue))" } ?? self.kind.rawValue
        return self.message.isEmpty ? head : "\(head): \(self.message)"
    }

    /// The description with the operator-only detail, for logs.
    public var logDescription: String {
        self.detail.map { "\(self.description) (\($0))" } ?? self.description
    }
}

/// A type-erased sequence of byte chunks, such as an upstream response body.
public struct ByteStream: AsyncSequence, Sendable {
    /// A chunk of bytes.
    public typealias Element = ByteBuffer
    private let makeNext: @Sendable () -> (() async throws -> ByteBuffer?)
    /// Stops the upstream from outside the consuming task: a pending `next()` throws and the
    /// upstream connection closes. The server calls it when the client goes away while the
    /// upstream is silent (nothing is being written, so no write can fail to notice).
    public let cancel: @Sendable () -> Void

    /// Wraps `base`; iterating the stream iterates `base`, so cancelling the iteration cancels it.
    /// `cancel` stops `base` from any thread (the default relies on the consumer's next write failing).
    public init<Base: AsyncSequence & Sendable>(_ base: Base, cancel: @escaping @Sendable () -> Void = {})
    where Base.Element == ByteBuffer {
        self.makeNext = {
            let box = IteratorBox(base.makeAsyncIterator())
            return { try await box.next() }
        }
        self.cancel = cancel
    }

    /// Iterates the chunks.
    public func makeAsyncIterator() -> Iterator { Iterator(advance: self.makeNext()) }

    /// Iterates the chunks.
    public struct Iterator: AsyncIteratorProtocol {
        let advance: () async throws -> ByteBuffer?

        /// The next chunk, or `nil` at the end.
        public mutating func next() async throws -> ByteBuffer? { try await self.advance() }
    }

    // A class so the closure can advance the iterator; only the one consuming task touches it.
    private final class IteratorBox<Base: AsyncIteratorProtocol>: @unchecked Sendable where Base.Element == ByteBuffer {
        var base: Base
        init(_ base: Base) { self.base = base }
        func next() async throws -> ByteBuffer? { try await self.base.next() }
    }
}
