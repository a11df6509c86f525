// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import Synchronization

/// Relays an upstream's OpenAI-format event stream to the client, event by event.
///
/// Each upstream chunk is split into events and the complete events are yielded at once, so
/// nothing waits for more of the stream. On the way it notes the time to first token, reads
/// the usage chunk, adds `usage.cost` to it, and drops it again if the client did not ask for
/// usage (the gateway always asks the upstream for it). A stream that ends without `[DONE]`
/// throws, so the server can end it with an error event instead of pretending it finished.
public struct ChatStream: AsyncSequence, Sendable {
    /// Bytes to write to the client.
    public typealias Element = ByteBuffer

    /// What the stream amounted to, read once it has ended.
    public let outcome: Outcome
    private let upstream: ByteStream
    private let settings: Settings
    private let primed: Primed?

    struct Settings: Sendable {
        var clientWantsUsage: Bool
        var pricing: Pricing?
        var startedAt: ContinuousClock.Instant
        var deadline: ContinuousClock.Instant?
        var notesFinishReasons: Bool
    }

    /// Creates a relay over `upstream`.
    ///
    /// - Parameters:
    ///   - clientWantsUsage: whether the client set `stream_options.include_usage`.
    ///   - pricing: the route's prices, for `usage.cost`.
    ///   - startedAt: when the request arrived, for the time to first token.
    ///   - deadline: when the `total` timeout ends the stream: checked as each chunk arrives, so
    ///     together with the idle timeout (which bounds the gaps) a stream lasts at most `total` + `idle`.
    ///   - captureLimit: how many output bytes to keep for the request log.
    ///   - notesFinishReasons: whether to read each event's `finish_reason` (for traces only).
    public init(
        upstream: ByteStream,
        clientWantsUsage: Bool,
        pricing: Pricing?,
        startedAt: ContinuousClock.Instant,
        deadline: ContinuousClock.Instant? = nil,
        captureLimit: Int = 64 << 10,
        notesFinishReasons: Bool = false
    ) {
        self.upstream = upstream
        self.settings = Settings(
            clientWantsUsage: clientWantsUsage,
            pricing: pricing,
            startedAt: startedAt,
            deadline: deadline,
            notesFinishReasons: notesFinishReasons
        )
        self.outcome = Outcome(captureLimit: captureLimit)
        self.primed = nil
    }

    private init(_ stream: ChatStream, primed: Primed) {
        self.upstream = stream.upstream
        self.settings = stream.settings
        self.outcome = stream.outcome
        self.primed = primed
    }

    /// Reads up to the first bytes for the client and returns a stream that starts with them.
    ///
    /// Throws ``ProviderError`` when the upstream breaks, stalls or ends before anything reaches
    /// the client, or when its first event is an error: nothing has been sent, so the dispatcher
    /// can still try another route.
    public func primed() async throws -> ChatStream {
        var iterator = self.makeAsyncIterator()
        let first = try await iterator.next()
        if let error = self.outcome.values.error {
            self.cancelUpstream()
            throw ProviderError(kind: .server, message: "the stream began with an error: \(error.prefix(300))")
        }
        iterator.pending = first
        return ChatStream(self, primed: Primed(iterator))
    }

    /// An iterator that has already read the first bytes; it is handed out once.
    // Unchecked: the iterator is written once at creation and read only by the one caller that wins `taken`.
    private final class Primed: @unchecked Sendable {
        private var iterator: Iterator?
        private let taken = Atomic<Bool>(false)
        init(_ iterator: Iterator) { self.iterator = iterator }
        func take() -> Iterator? {
            guard !self.taken.exchange(true, ordering: .acquiringAndReleasing) else { return nil }
            defer { self.iterator = nil }
            return self.iterator
        }
    }

    /// Stops the upstream from outside the relaying task (the client went away): the relay throws.
    public func cancelUpstream() { self.upstream.cancel() }

    /// Iterates the relayed bytes.
    public func makeAsyncIterator() -> Iterator {
        if let primed = self.primed?.take() { return primed }
        return Iterator(upstream: self.upstream.makeAsyncIterator(), settings: self.settings, outcome: self.outcome)
    }

    /// The final state of a stream: usage, cost, first-token time and any error.
    public final class Outcome: Sendable {
        /// The recorded values.
        public struct Values: Sendable {
            /// Usage from the usage chunk.
            public var usage: TokenUsage?
            /// Cost of `usage`.
            public var cost: Double?
            /// Time from the request to the first event.
            public var timeToFirstToken: Duration?
            /// Why the stream failed, if it did.
            public var error: String?
            /// The events' `finish_reason`s, when the stream notes them.
            public var finishReasons: [String] = []
            /// The first bytes sent to the client.
            public var captured: [UInt8] = []
            /// How many bytes ``captured`` keeps.
            var captureLimit = 0
            /// Whether bytes were left out of ``captured`` (it is not the whole stream).
            public var captureCut = false
        }

        private let state: Mutex<Values>

        init(captureLimit: Int) {
            var values = Values()
            values.captureLimit = captureLimit
            self.state = Mutex(values)
        }

        /// Keeps at least `limit` bytes of the stream (the cache needs all of an answer it stores).
        public func captureAtLeast(_ limit: Int) {
            self.state.withLock { $0.captureLimit = Swift.max($0.captureLimit, limit) }
        }

        /// A snapshot of the recorded values.
        public var values: Values { self.state.withLock { $0 } }

        /// Records that the stream failed with `message`.
        public func recordFailure(_ message: String) { self.state.withLock { $0.error = message } }

        func update(_ body: (inout Values) -> Void) { self.state.withLock { body(&$0) } }
    }

    /// Iterates the relayed bytes.
    public struct Iterator: AsyncIteratorProtocol {
        var upstream: ByteStream.Iterator
        let settings: Settings
        let outcome: Outcome
        var decoder = SSEDecoder()
        var sawDone = false
        var sawFirstEvent = false
        var finished = false
        /// Bytes read ahead by ``ChatStream/primed()``, returned first.
        var pending: ByteBuffer?

        /// The next bytes for the client; throws ``ProviderError`` if the upstream breaks off.
        public mutating func next() async throws -> ByteBuffer? {
            if let pending = self.pending {
                self.pending = nil
                return pending
            }
            while !self.finished {
                let next = try await self.upstream.next()
                if let deadline = self.settings.deadline, ContinuousClock.now >= deadline {
                    self.finished = true
                    throw ProviderError(kind: .timeout, message: "the stream exceeded the total timeout")
                }
                guard let chunk = next else {
                    self.finished = true
                    guard self.sawDone else {
                        throw ProviderError(
                            kind: .connection,
                            message: "the upstream closed the stream before it finished"
                        )
                    }
                    return nil
                }
                var output = ByteBuffer()
                let events: [ServerSentEvent]
                do {
                    events = try self.decoder.feed(chunk.readableBytesView)
                } catch {
                    self.finished = true
                    throw ProviderError(
                        kind: .invalidResponse,
                        message: "an upstream event exceeds \(error.limit) bytes"
                    )
                }
                for event in events {
                    self.relay(event, into: &output)
                }
                if output.readableBytes > 0 {
                    let captured = output
                    self.outcome.update { values in
                        let room = values.captureLimit - values.captured.count
                        if room > 0 { values.captured.append(contentsOf: captured.readableBytesView.prefix(room)) }
                        if room < captured.readableBytes { values.captureCut = true }
                    }
                    return output
                }
            }
            return nil
        }

        private mutating func relay(_ event: ServerSentEvent, into output: inout ByteBuffer) {
            if !self.sawFirstEvent {
                self.sawFirstEvent = true
                let elapsed = ContinuousClock.now - self.settings.startedAt
                self.outcome.update { $0.timeToFirstToken = elapsed }
            }
            // An event without data (a bare `event:` line) carries nothing an OpenAI client reads.
            guard !event.data.isEmpty else { return }
            if event.data.elementsEqual("[DONE]".utf8) {
                self.sawDone = true
                output.writeString("data: [DONE]\n\n")
                return
            }
            var data = event.data
            if data.containsSubsequence(Self.usageKey) {
                guard let annotated = self.annotateUsage(data) else { return }
                data = annotated
            } else if data.containsSubsequence(Self.errorKey) {
                let message = String(decoding: data.prefix(500), as: UTF8.self)
                self.outcome.update { $0.error = "upstream error event: \(message)" }
            }
            if self.settings.notesFinishReasons {
                self.outcome.update { FinishReasons.scan(data, into: &$0.finishReasons) }
            }
            if let name = event.name {
                output.writeString("event: \(name)\n")
            }
            output.writeString("data: ")
            output.writeBytes(data)
            output.writeString("\n\n")
        }

        private static let usageKey = Array("\"usage\"".utf8)
        private static let errorKey = Array("\"error\"".utf8)

        /// Adds the cost to a usage chunk, or drops the usage the client did not ask for; `nil` drops the event.
        private func annotateUsage(_ data: [UInt8]) -> [UInt8]? {
            guard var editor = try? JSONObjectEditor(data),
                let annotated = try? UsageAnnotator.annotate(&editor, pricing: self.settings.pricing)
            else { return data }
            self.outcome.update {
                $0.usage = annotated.0
                $0.cost = annotated.1
            }
            if self.settings.clientWantsUsage { return editor.bytes }
            // OpenAI sends usage in a chunk of its own with no choices: drop it whole. Other servers
            // attach it to the last content chunk: keep that chunk and blank the usage instead.
            if let choices = editor.value("choices"), choices.elementsEqual("[]".utf8) { return nil }
            try? editor.set("usage", json: Array("null".utf8))
            return editor.bytes
        }
    }

    /// The SSE event that ends a stream broken by `error`, in OpenAI's error shape.
    public static func errorEvent(_ error: GatewayError) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("data: ")
        buffer.writeBytes(error.jsonBody)
        buffer.writeString("\n\n")
        return buffer
    }
}

extension Array where Element == UInt8 {
    /// Whether `needle` occurs in the array.
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, self.count >= needle.count else { return false }
        let first = needle[0]
        var index = 0
        let last = self.count - needle.count
        while index <= last {
            if self[index] == first, self[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}
