// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Shared JSON coders, configured once: creating a coder per request costs more than using it.
public enum JSONDecoderFactory {
    /// A decoder for wire types; they spell out their snake_case keys themselves.
    public static let decoder = JSONDecoder()
    /// An encoder with stable key order, so logs, fixtures and tests compare byte for byte.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

/// Edits a JSON object's bytes member by member, leaving the rest untouched.
public struct JSONObjectEditor {
    /// The bytes being edited.
    public private(set) var bytes: [UInt8]
    private var members: [String: JSONObjectScanner.Member]
    private var end: Int

    /// Scans `bytes`, which must hold one JSON object.
    public init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        (self.members, self.end) = try JSONObjectScanner.members(of: bytes)
    }

    /// The raw bytes of the member `key`'s value, if present.
    public func value(_ key: String) -> ArraySlice<UInt8>? {
        self.members[key].map { self.bytes[$0.value] }
    }

    /// Sets `key` to the JSON text `json`, replacing its value or appending the member.
    ///
    /// The member table is updated by shifting offsets rather than by scanning the object again.
    public mutating func set(_ key: String, json: some Collection<UInt8>) throws {
        let count = json.count
        if let member = self.members[key] {
            let delta = count - member.value.count
            self.bytes.replaceSubrange(member.value, with: json)
            for (name, other) in self.members where other.pair.lowerBound > member.pair.lowerBound {
                self.members[name] = JSONObjectScanner.Member(
                    pair: (other.pair.lowerBound + delta)..<(other.pair.upperBound + delta),
                    value: (other.value.lowerBound + delta)..<(other.value.upperBound + delta)
                )
            }
            self.members[key] = JSONObjectScanner.Member(
                pair: member.pair.lowerBound..<(member.pair.upperBound + delta),
                value: member.value.lowerBound..<(member.value.lowerBound + count)
            )
            self.end += delta
        } else {
            var insertion: [UInt8] = []
            // An object with no members yet needs no separating comma.
            if !self.members.isEmpty { insertion.append(UInt8(ascii: ",")) }
            let pairStart = self.end + insertion.count
            insertion.append(contentsOf: JSONText.string(key))
            insertion.append(UInt8(ascii: ":"))
            let valueStart = self.end + insertion.count
            insertion.append(contentsOf: json)
            self.bytes.insert(contentsOf: insertion, at: self.end)
            self.members[key] = JSONObjectScanner.Member(
                pair: pairStart..<(valueStart + count),
                value: valueStart..<(valueStart + count)
            )
            self.end += insertion.count
        }
    }

    /// Removes the member `key` with its separating comma; does nothing when it is absent.
    public mutating func remove(_ key: String) throws {
        guard let member = self.members[key] else { return }
        let later = self.members.values.filter { $0.pair.lowerBound > member.pair.lowerBound }
        let earlier = self.members.values.filter { $0.pair.lowerBound < member.pair.lowerBound }
        let range: Range<Int>
        if let next = later.min(by: { $0.pair.lowerBound < $1.pair.lowerBound }) {
            range = member.pair.lowerBound..<next.pair.lowerBound
        } else if let previous = earlier.max(by: { $0.pair.lowerBound < $1.pair.lowerBound }) {
            range = previous.pair.upperBound..<member.pair.upperBound
        } else {
            range = member.pair
        }
        self.bytes.removeSubrange(range)
        (self.members, self.end) = try JSONObjectScanner.members(of: self.bytes)
    }
}

/// Small helpers that read and write JSON text directly.
public enum JSONText {
    /// `bytes` decoded as `T` with the shared decoder; `nil` when they are not `T`, or nest past
    /// ``maxNesting`` (where Foundation's decoder traps instead of throwing).
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) -> T? {
        guard !Self.nestsTooDeeply(bytes) else { return nil }
        return try? JSONDecoderFactory.decoder.decode(T.self, from: Data(bytes))
    }

    /// The value of a JSON string literal, or `nil` if `literal` is not one.
    public static func decodeString(_ literal: ArraySlice<UInt8>) -> String? {
        guard literal.count >= 2, literal.first == UInt8(ascii: "\""), literal.last == UInt8(ascii: "\"") else {
            return nil
        }
        let inner = literal.dropFirst().dropLast()
        if !inner.contains(UInt8(ascii: "\\")) { return String(decoding: inner, as: UTF8.self) }
        return JSONValue.parse(Array(literal))?.string
    }

    /// Deepest nesting of arrays and objects that untrusted JSON may reach before `JSONDecoder` sees it.
    public static let maxNesting = 512

    /// Whether `bytes` nest arrays or objects deeper than ``maxNesting`` (brackets in strings do not count).
    ///
    /// Foundation's `JSONDecoder` traps, instead of throwing, when the bracket that passes its own
    /// 512-level limit is the last byte of its input (`[` × 513): one request would end the process.
    /// Every body from a client or an upstream is checked with this before it is decoded.
    public static func nestsTooDeeply(_ bytes: some Collection<UInt8>) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > Self.maxNesting { return true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return false
    }

    /// The value of a JSON integer literal, or `nil` if `literal` is not one.
    public static func decodeInt(_ literal: ArraySlice<UInt8>) -> Int? {
        guard !literal.isEmpty, literal.count < 19 else { return nil }
        var value = 0
        for byte in literal {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// The JSON string literal for `value`, escaped as RFC 8259 requires.
    public static func string(_ value: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        out.reserveCapacity(value.utf8.count + 2)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }
}
