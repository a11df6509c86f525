// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One server-sent event: its optional name and its data lines joined by newlines.
public struct ServerSentEvent: Sendable, Equatable {
    /// The `event:` field, if any.
    public var name: String?
    /// The `data:` payload.
    public var data: [UInt8]

    /// Creates an event.
    public init(name: String? = nil, data: [UInt8]) {
        self.name = name
        self.data = data
    }
}

/// Splits a byte stream into server-sent events, however the bytes are chunked.
///
/// Feed it chunks as they arrive; it returns the events each chunk completes and keeps the
/// rest for the next chunk. Comment lines (`: ping`) and `id:`/`retry:` fields are dropped.
///
/// The work is linear in the input: bytes already searched for an event's end are not searched
/// again when the next chunk arrives, and an event larger than `maxEventBytes` is refused, so a
/// broken or hostile upstream can neither make it quadratic nor make it buffer without bound.
public struct SSEDecoder: Sendable {
    private var pending: [UInt8] = []
    /// How much of `pending` has been searched for an event end.
    private var searched = 0
    /// Bytes searched for event ends so far, counted so tests can check the work stays linear.
    private(set) var bytesSearched = 0
    /// Largest event accepted.
    public let maxEventBytes: Int

    /// An event grew beyond ``SSEDecoder/maxEventBytes`` without ending.
    public struct EventTooLarge: Error, Sendable, Equatable {
        /// The limit it exceeded.
        public var limit: Int
    }

    /// Creates a decoder with nothing buffered; events above `maxEventBytes` (default 8 MiB) are refused.
    public init(maxEventBytes: Int = 8 << 20) {
        self.maxEventBytes = maxEventBytes
    }

    /// Whether bytes of an unfinished event are buffered (a stream that ends now was cut off).
    public var hasPendingBytes: Bool { !self.pending.isEmpty }

    /// Appends `bytes` and returns the events they complete.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(EventTooLarge) -> [ServerSentEvent] {
        self.pending.append(contentsOf: bytes)
        var events: [ServerSentEvent] = []
        var start = 0
        // An end marker (up to three bytes) may straddle the previous chunk: step back two bytes.
        var from = max(0, self.searched - 2)
        while let end = Self.eventEnd(in: self.pending, from: from) {
            if let event = Self.parse(self.pending[start..<end.block]) { events.append(event) }
            self.bytesSearched += end.next - from
            start = end.next
            from = start
        }
        self.bytesSearched += self.pending.count - from
        if start > 0 { self.pending.removeFirst(start) }
        self.searched = self.pending.count
        guard self.pending.count <= self.maxEventBytes else {
            self.pending = []
            self.searched = 0
            throw EventTooLarge(limit: self.maxEventBytes)
        }
        return events
    }

    /// Finds the blank line that ends the event starting at `from`.
    private static func eventEnd(in bytes: [UInt8], from: Int) -> (block: Int, next: Int)? {
        var index = from
        while index < bytes.count {
            if bytes[index] == 0x0A {
                if index + 1 < bytes.count, bytes[index + 1] == 0x0A { return (index, index + 2) }
                if index + 2 < bytes.count, bytes[index + 1] == 0x0D, bytes[index + 2] == 0x0A {
                    return (index, index + 3)
                }
            }
            index += 1
        }
        return nil
    }

    private static func parse(_ block: ArraySlice<UInt8>) -> ServerSentEvent? {
        var name: String?
        var data: [UInt8] = []
        var hasData = false
        for rawLine in block.split(separator: 0x0A, omittingEmptySubsequences: true) {
            var line = rawLine
            if line.last == 0x0D { line = line.dropLast() }
            guard let first = line.first, first != UInt8(ascii: ":") else { continue }
            let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
            let field = line[line.startIndex..<colon]
            var value = colon < line.endIndex ? line[(colon + 1)...] : []
            if value.first == 0x20 { value = value.dropFirst() }
            if field.elementsEqual("data".utf8) {
                if hasData { data.append(0x0A) }
                data.append(contentsOf: value)
                hasData = true
            } else if field.elementsEqual("event".utf8) {
                name = String(decoding: value, as: UTF8.self)
            }
        }
        return hasData || name != nil ? ServerSentEvent(name: name, data: data) : nil
    }
}
