// SPDX-License-Identifier: Apache-2.0

import Foundation
import HTTPTypes
import Logging

/// One client request on its way through the pipeline.
///
/// Stages fill it in as it travels: authentication sets ``caller``, validation sets
/// ``chat`` or ``embeddings``. It is a value, so a stage's changes are visible only to the
/// stages after it.
public struct Call: Sendable {
    /// The endpoint a call was made to.
    public enum Endpoint: String, Sendable, CaseIterable {
        /// `POST /v1/chat/completions`.
        case chatCompletions = "chat.completions"
        /// `POST /v1/embeddings`.
        case embeddings
        /// `POST /v1/messages`: Anthropic's Messages API, translated to a chat request before the pipeline.
        case messages
    }

    /// The gateway's id for the request (`x-switchyard-request-id`).
    public var id: String
    /// The endpoint called.
    public var endpoint: Endpoint
    /// The body the pipeline reads: the client's, or its translation into a chat request (`/v1/messages`).
    public var body: [UInt8]
    /// The client's body when ``body`` is a translation of it, for the request log.
    public var clientBody: [UInt8]?
    /// The key the client presented, if any (never logged).
    public var presentedKey: String?
    /// The request's headers, for routing rules (copy-on-write: keeping them costs no copy).
    public var headers: HTTPFields = [:]
    /// The request's span, when tracing is on.
    public var trace: CallTrace?
    /// A mirror of a caller's call to a shadow candidate: never mirrored again.
    public var isShadow = false
    /// Who is calling, once authenticated.
    public var caller: Caller?
    /// The validated chat request, once decoded.
    public var chat: ChatRequest?
    /// The validated embeddings request, once decoded.
    public var embeddings: EmbeddingsRequest?
    /// Reasoning the inbound translation kept beside the body, for ``ChatRequest/inboundReasoning``.
    public var inboundReasoning = InboundReasoning()
    /// When the gateway received the request (wall clock, for logs).
    public var receivedAt: Date
    /// When the gateway received the request (monotonic, for latency).
    public var startedAt: ContinuousClock.Instant
    /// Logger carrying the request id.
    public var logger: Logger
    /// `model` and `stream` as the body states them, read before validation for logs and metrics.
    public let peek: RequestPeek
    /// A failure found before the pipeline ran (a body too large or too slow). Validation raises it,
    /// so the call is still authenticated, logged and counted like any other invalid request.
    public var rejection: GatewayError?

    /// Creates a call for a request just received.
    public init(
        id: String,
        endpoint: Endpoint,
        body: [UInt8],
        presentedKey: String?,
        logger: Logger,
        rejection: GatewayError? = nil
    ) {
        self.rejection = rejection
        self.id = id
        self.endpoint = endpoint
        self.body = body
        self.presentedKey = presentedKey
        self.receivedAt = Date()
        self.startedAt = .now
        self.logger = logger
        self.peek = RequestPeek(body)
    }

    /// The public model asked for, once the body is decoded.
    public var requestedModel: String? { self.chat?.model ?? self.embeddings?.model }
    /// Whether the client asked for a stream.
    public var isStreaming: Bool { self.chat?.isStreaming ?? false }
}

/// The `model` and `stream` members of a body, read without decoding it (it may be malformed).
public struct RequestPeek: Sendable {
    /// The `model` string, if the body has one.
    public var model: String?
    /// Whether `stream` is `true`.
    public var isStreaming = false

    /// Reads `model` and `stream` from `body`; anything unreadable is left unset.
    public init(_ body: [UInt8]) {
        guard let (members, _) = try? JSONObjectScanner.members(of: body) else { return }
        if let range = members["model"]?.value { self.model = JSONText.decodeString(body[range]) }
        if let range = members["stream"]?.value { self.isStreaming = body[range].elementsEqual("true".utf8) }
    }
}

/// The authenticated client behind a call.
public struct Caller: Sendable, Equatable {
    /// The key's name, as logs show it (`master` for the master key, `anonymous` without auth).
    public var keyName: String
    /// Public models the key may use; `nil` allows all.
    public var allowedModels: Set<String>?
    /// Whether bodies must not be stored.
    public var zeroDataRetention: Bool
    /// The virtual key's id, for a virtual key.
    public var keyID: String?
    /// The key's team, if any.
    public var team: String?
    /// What the key may do: the master key and configured keys are `admin` and `client`.
    public var role: VirtualKey.Role
    /// The key's own budget and limits (its team's come from the team).
    public var policy: SpendPolicy

    /// Creates a caller.
    public init(
        keyName: String,
        allowedModels: Set<String>? = nil,
        zeroDataRetention: Bool = false,
        keyID: String? = nil,
        team: String? = nil,
        role: VirtualKey.Role = .client,
        policy: SpendPolicy = SpendPolicy()
    ) {
        self.policy = policy
        self.keyName = keyName
        self.allowedModels = allowedModels
        self.zeroDataRetention = zeroDataRetention
        self.keyID = keyID
        self.team = team
        self.role = role
    }

    /// A caller on a gateway without keys.
    public static let anonymous = Caller(keyName: "anonymous")

    /// Whether the key may use `model`.
    public func mayUse(_ model: String) -> Bool {
        self.allowedModels.map { $0.contains(model) } ?? true
    }
}

/// Makes request ids: time-ordered, unique, and short enough for headers and logs.
public enum RequestID {
    /// A UUIDv7-shaped id, so ids sort by time in the request log.
    public static func make() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        let millis = UInt64(Date().timeIntervalSince1970 * 1000)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - index))) }
        // Two draws fill the random part: the system generator makes a system call per draw.
        var generator = SystemRandomNumberGenerator()
        let random = (generator.next() as UInt64, generator.next() as UInt64)
        for index in 6..<14 { bytes[index] = UInt8(truncatingIfNeeded: random.0 >> (8 * (index - 6))) }
        for index in 14..<16 { bytes[index] = UInt8(truncatingIfNeeded: random.1 >> (8 * (index - 14))) }
        bytes[6] = (bytes[6] & 0x0F) | 0x70
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return "req_" + Hex.lowercase(bytes)
    }
}
