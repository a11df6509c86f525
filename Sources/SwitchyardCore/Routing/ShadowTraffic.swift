// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging
import Synchronization

/// Mirrors a share of a model's chat calls to a candidate model after the caller's answer is sent,
/// and keeps both results side by side.
///
/// The caller is never affected: the mirror starts from the reply's finish hook (after the last
/// byte), runs on its own task without a stream, is not billed to the caller's key and is not in
/// the caller's request log record. At most ``concurrencyLimit`` mirrors run at once; beyond that,
/// calls are not mirrored (and counted). The last ``capacity`` comparisons are kept in memory for
/// `GET /admin/shadow`.
public final class ShadowTraffic: Sendable {
    /// Most mirrored calls in flight.
    public let concurrencyLimit: Int
    /// Comparisons kept.
    public let capacity: Int
    private let state = Mutex<(records: [ShadowRecord], inFlight: Int, skipped: Int)>(([], 0, 0))

    /// Creates an empty log.
    public init(concurrencyLimit: Int = 16, capacity: Int = 1000) {
        self.concurrencyLimit = concurrencyLimit
        self.capacity = capacity
    }

    /// Comparisons, newest first, optionally for one model.
    public func records(model: String? = nil, limit: Int = 100) -> [ShadowRecord] {
        self.state.withLock { state in
            Array(state.records.reversed().lazy.filter { model == nil || $0.model == model }.prefix(limit))
        }
    }

    /// Calls not mirrored because too many mirrors were running.
    public var skipped: Int { self.state.withLock { $0.skipped } }

    /// Whether a mirror may start now; takes a slot when it may.
    func begin() -> Bool {
        self.state.withLock { state in
            guard state.inFlight < self.concurrencyLimit else {
                state.skipped += 1
                return false
            }
            state.inFlight += 1
            return true
        }
    }

    /// Keeps `record` and frees the slot.
    func finish(_ record: ShadowRecord?) {
        self.state.withLock { state in
            state.inFlight -= 1
            guard let record else { return }
            state.records.append(record)
            if state.records.count > self.capacity { state.records.removeFirst(state.records.count - self.capacity) }
        }
    }

    /// Longest output text kept per side.
    static let outputLimit = 4096
}

/// One mirrored call: the caller's answer and the candidate's, side by side.
public struct ShadowRecord: Sendable, Encodable, Equatable {
    /// The caller's request id.
    public var requestID: String
    /// The public model the caller asked for.
    public var model: String
    /// When the mirror finished.
    public var at: Date
    /// The caller's answer.
    public var primary: Side
    /// The candidate's answer.
    public var shadow: Side

    /// One answer.
    public struct Side: Sendable, Encodable, Equatable {
        /// Public model.
        public var model: String
        /// `provider/model` that answered, if any did.
        public var route: String?
        /// HTTP status (200, or the error's).
        public var status: Int
        /// Gateway time for the call.
        public var latencyMs: Double
        /// Prompt tokens.
        public var inputTokens: Int?
        /// Completion tokens.
        public var outputTokens: Int?
        /// Cost in USD, if priced.
        public var costUSD: Double?
        /// The answer's text (first 4,096 characters), or the error.
        public var output: String

        enum CodingKeys: String, CodingKey {
            case model, route, status, output
            case latencyMs = "latency_ms"
            case inputTokens = "input_tokens"
            case outputTokens = "output_tokens"
            case costUSD = "cost_usd"
        }
    }

    enum CodingKeys: String, CodingKey {
        case model, at, primary, shadow
        case requestID = "request_id"
    }
}

extension Dispatcher {
    /// `reply` with a hook that mirrors the call to the model's shadow candidate once it is sent.
    func mirroring(_ reply: Reply, call: Call, model: ResolvedModel) -> Reply {
        guard let shadow = model.shadow, !call.isShadow, let traffic = self.shadowTraffic, let request = call.chat,
            Double.random(in: 0..<1) < shadow.share
        else { return reply }
        return reply.onFinish { receipt in
            guard traffic.begin() else { return }
            let primary = ShadowRecord.Side(
                model: request.model,
                route: receipt.provider.isEmpty ? nil : "\(receipt.provider)/\(receipt.model)",
                status: receipt.status,
                latencyMs: receipt.latency.milliseconds,
                inputTokens: receipt.usage?.inputTokens,
                outputTokens: receipt.usage?.outputTokens,
                costUSD: receipt.cost,
                output: ShadowRecord.text(of: receipt.responseBody ?? [])
            )
            Task.detached {
                let record = await self.mirror(call, request: request, candidate: shadow.model, primary: primary)
                if let record {
                    call.logger.info(
                        "shadow call compared",
                        metadata: [
                            "gw.request_id": "\(call.id)", "gw.model": "\(request.model)",
                            "gw.shadow_model": "\(shadow.model)", "gw.shadow_status": "\(record.shadow.status)",
                            "gw.shadow_latency_ms": "\(record.shadow.latencyMs)",
                        ]
                    )
                }
                traffic.finish(record)
            }
        }
    }

    /// Runs the call on `candidate`, without a stream, and compares.
    private func mirror(
        _ call: Call,
        request: ChatRequest,
        candidate: String,
        primary: ShadowRecord.Side
    ) async
        -> ShadowRecord?
    {
        guard var editor = try? JSONObjectEditor(request.body) else { return nil }
        try? editor.set("model", json: JSONText.string(candidate))
        try? editor.set("stream", json: Array("false".utf8))
        try? editor.remove("stream_options")
        var mirrored = Call(
            id: call.id + "-shadow",
            endpoint: .chatCompletions,
            body: editor.bytes,
            presentedKey: nil,
            logger: call.logger
        )
        // The operator chose the candidate: the caller's allow-list does not apply to it.
        mirrored.caller = Caller(keyName: (call.caller ?? .anonymous).keyName)
        mirrored.headers = call.headers
        mirrored.isShadow = true
        let started = ContinuousClock.now
        var side = ShadowRecord.Side(model: candidate, status: 200, latencyMs: 0, output: "")
        do {
            mirrored.chat = try ChatRequest(body: mirrored.body)
            let reply = try await self.dispatch(mirrored)
            side.route = "\(reply.provider)/\(reply.model)"
            if case .complete(let buffer, let usage, let cost) = reply.body {
                side.inputTokens = usage?.inputTokens
                side.outputTokens = usage?.outputTokens
                side.costUSD = cost
                side.output = ShadowRecord.text(of: Array(buffer.readableBytesView))
            }
        } catch {
            let failure = GatewayError.from(error)
            side.status = failure.status.code
            side.output = failure.message
        }
        side.latencyMs = (ContinuousClock.now - started).milliseconds
        return ShadowRecord(requestID: call.id, model: request.model, at: Date(), primary: primary, shadow: side)
    }
}

extension ShadowRecord {
    /// The assistant text of a completion body or of a stream's events, cut at ``ShadowTraffic/outputLimit``.
    static func text(of body: [UInt8]) -> String {
        var text = ""
        if let object = JSONValue.parse(body)?.object {
            for choice in object["choices"]?.array ?? [] {
                text += choice.object?["message"]?.object?["content"]?.string ?? ""
            }
        } else {
            var decoder = SSEDecoder()
            for event in (try? decoder.feed(body[...])) ?? [] {
                guard let chunk = JSONValue.parse(event.data)?.object else { continue }
                for choice in chunk["choices"]?.array ?? [] {
                    text += choice.object?["delta"]?.object?["content"]?.string ?? ""
                }
                if text.count > ShadowTraffic.outputLimit { break }
            }
        }
        return String(text.prefix(ShadowTraffic.outputLimit))
    }
}
