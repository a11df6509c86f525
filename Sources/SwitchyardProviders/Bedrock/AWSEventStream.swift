// SPDX-License-Identifier: Apache-2.0

import NIOCore

/// One message of AWS's binary event stream (`application/vnd.amazon.eventstream`).
public struct AWSEventMessage: Sendable, Equatable {
    /// String headers (`:event-type`, `:message-type`, `:exception-type`, ...); others are skipped.
    public var headers: [String: String]
    /// The payload (JSON for Bedrock).
    public var payload: [UInt8]
}

/// Splits AWS's binary event stream into messages, checking both CRCs.
///
/// Each message is a 12-byte prelude (total length, headers length, CRC-32 of those eight bytes),
/// the headers (name length, name, value type, value), the payload and a CRC-32 of everything
/// before it. Chunks may split messages anywhere. A message longer than `maxMessageBytes`, a header
/// block that overruns its message, an unknown value type or a wrong CRC is refused, so a broken
/// upstream can neither make it buffer without bound nor read past a message.
public struct AWSEventStreamDecoder: Sendable {
    private var pending: [UInt8] = []
    /// Largest message accepted (AWS caps event stream messages at 16 MiB).
    public let maxMessageBytes: Int

    /// Why the stream cannot be read.
    public struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        /// What was wrong.
        public var description: String
    }

    /// Creates a decoder with nothing buffered.
    public init(maxMessageBytes: Int = 16 << 20) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Whether bytes of an unfinished message are buffered (a stream ending now was cut short).
    public var hasPartialMessage: Bool { !self.pending.isEmpty }

    /// Appends `bytes` and returns the messages they complete.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(Malformed) -> [AWSEventMessage] {
        self.pending.append(contentsOf: bytes)
        var messages: [AWSEventMessage] = []
        var start = 0
        while self.pending.count - start >= 12 {
            let total = Self.uint32(self.pending, at: start)
            let headersLength = Self.uint32(self.pending, at: start + 4)
            guard CRC32.checksum(self.pending[start..<start + 8]) == Self.uint32(self.pending, at: start + 8) else {
                throw Malformed(description: "an event stream prelude fails its CRC")
            }
            guard total >= 16, total <= self.maxMessageBytes, headersLength <= total - 16 else {
                throw Malformed(
                    description: "an event stream message declares \(total) bytes, outside 16...\(self.maxMessageBytes)"
                )
            }
            guard self.pending.count - start >= total else { break }
            let end = start + total
            guard CRC32.checksum(self.pending[start..<end - 4]) == Self.uint32(self.pending, at: end - 4) else {
                throw Malformed(description: "an event stream message fails its CRC")
            }
            let headersEnd = start + 12 + headersLength
            messages.append(
                AWSEventMessage(
                    headers: try Self.headers(self.pending[(start + 12)..<headersEnd]),
                    payload: Array(self.pending[headersEnd..<(end - 4)])
                )
            )
            start = end
        }
        self.pending.removeFirst(start)
        return messages
    }

    private static func uint32(_ bytes: [UInt8], at index: Int) -> Int {
        Int(bytes[index]) << 24 | Int(bytes[index + 1]) << 16 | Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
    }

    /// Reads the header block; string values are kept, other types skipped by their size.
    private static func headers(_ block: ArraySlice<UInt8>) throws(Malformed) -> [String: String] {
        var headers: [String: String] = [:]
        var index = block.startIndex
        func need(_ count: Int) throws(Malformed) {
            guard block.endIndex - index >= count else {
                throw Malformed(description: "an event stream header runs past its block")
            }
        }
        while index < block.endIndex {
            try need(1)
            let nameLength = Int(block[index])
            index += 1
            try need(nameLength + 1)
            let name = String(decoding: block[index..<index + nameLength], as: UTF8.self)
            index += nameLength
            let type = block[index]
            index += 1
            switch type {
            case 0, 1: break  // true, false
            case 2:
                try need(1)
                index += 1
            case 3:
                try need(2)
                index += 2
            case 4:
                try need(4)
                index += 4
            case 5, 8:
                try need(8)
                index += 8
            case 9:
                try need(16)
                index += 16
            case 6, 7:
                try need(2)
                let length = Int(block[index]) << 8 | Int(block[index + 1])
                index += 2
                try need(length)
                if type == 7 { headers[name] = String(decoding: block[index..<index + length], as: UTF8.self) }
                index += length
            default:
                throw Malformed(description: "an event stream header has unknown value type \(type)")
            }
        }
        return headers
    }
}

/// CRC-32 (IEEE 802.3, as zlib computes it), which the event stream uses for its checksums.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    /// The checksum of `bytes`.
    static func checksum(_ bytes: some Sequence<UInt8>) -> Int {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = Self.table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return Int(crc ^ 0xFFFF_FFFF)
    }
}
