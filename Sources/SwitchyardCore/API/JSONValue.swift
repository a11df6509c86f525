// SPDX-License-Identifier: Apache-2.0

/// A parsed JSON document, for reading request bodies on the hot path.
///
/// `JSONDecoder` spends most of its time in the `Decodable` machinery (containers, coding paths,
/// generic metadata), which at low load was the largest share of the gateway's own request work.
/// This parser only builds values; it is strict (RFC 8259, UTF-8, nesting depth at most 512) and
/// returns `nil` for anything it does not accept, so callers can fall back to `JSONDecoder` for
/// its precise error messages.
enum JSONValue: Equatable, Sendable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    /// A number, as written: callers convert it to the type they expect.
    case number(String)
    case bool(Bool)
    case null

    /// Parses `bytes` as one JSON value surrounded by optional whitespace.
    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        bytes.withUnsafeBufferPointer { buffer in
            var parser = Parser(bytes: buffer)
            guard let value = parser.value(depth: 0) else { return nil }
            parser.skipWhitespace()
            return parser.index == buffer.count ? value : nil
        }
    }

    var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The number when it is written as an integer that fits `Int`.
    var int: Int? {
        guard case .number(let text) = self, !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else {
            return nil
        }
        return Int(text)
    }

    /// The number when it is finite as a `Double`.
    var double: Double? {
        guard case .number(let text) = self, let value = Double(text), value.isFinite else { return nil }
        return value
    }

    var array: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    var object: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        static let maxDepth = 512

        mutating func skipWhitespace() {
            while self.index < self.bytes.count {
                switch self.bytes[self.index] {
                case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) -> JSONValue? {
            self.skipWhitespace()
            guard self.index < self.bytes.count, depth < Self.maxDepth else { return nil }
            switch self.bytes[self.index] {
            case UInt8(ascii: "{"): return self.object(depth: depth)
            case UInt8(ascii: "["): return self.array(depth: depth)
            case UInt8(ascii: "\""): return self.string().map(JSONValue.string)
            case UInt8(ascii: "t"): return self.literal("true", .bool(true))
            case UInt8(ascii: "f"): return self.literal("false", .bool(false))
            case UInt8(ascii: "n"): return self.literal("null", .null)
            default: return self.number()
            }
        }

        mutating func object(depth: Int) -> JSONValue? {
            self.index += 1
            var members: [String: JSONValue] = [:]
            self.skipWhitespace()
            if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "}") {
                self.index += 1
                return .object(members)
            }
            while true {
                self.skipWhitespace()
                guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\""),
                    let key = self.string()
                else { return nil }
                self.skipWhitespace()
                guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ":") else { return nil }
                self.index += 1
                guard let value = self.value(depth: depth + 1) else { return nil }
                members[key] = value
                self.skipWhitespace()
                guard self.index < self.bytes.count else { return nil }
                switch self.bytes[self.index] {
                case UInt8(ascii: ","): self.index += 1
                case UInt8(ascii: "}"):
                    self.index += 1
                    return .object(members)
                default: return nil
                }
            }
        }

        mutating func array(depth: Int) -> JSONValue? {
            self.index += 1
            var elements: [JSONValue] = []
            self.skipWhitespace()
            if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "]") {
                self.index += 1
                return .array(elements)
            }
            while true {
                guard let value = self.value(depth: depth + 1) else { return nil }
                elements.append(value)
                self.skipWhitespace()
                guard self.index < self.bytes.count else { return nil }
                switch self.bytes[self.index] {
                case UInt8(ascii: ","): self.index += 1
                case UInt8(ascii: "]"):
                    self.index += 1
                    return .array(elements)
                default: return nil
                }
            }
        }

        mutating func literal(_ word: StaticString, _ value: JSONValue) -> JSONValue? {
            let count = word.utf8CodeUnitCount
            guard self.index + count <= self.bytes.count else { return nil }
            for offset in 0..<count where self.bytes[self.index + offset] != word.utf8Start[offset] {
                return nil
            }
            self.index += count
            return value
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
        mutating func number() -> JSONValue? {
            let start = self.index
            if self.peek == UInt8(ascii: "-") { self.index += 1 }
            if self.peek == UInt8(ascii: "0") {
                self.index += 1
            } else {
                guard self.digits() > 0 else { return nil }
            }
            if self.peek == UInt8(ascii: ".") {
                self.index += 1
                guard self.digits() > 0 else { return nil }
            }
            if self.peek == UInt8(ascii: "e") || self.peek == UInt8(ascii: "E") {
                self.index += 1
                if self.peek == UInt8(ascii: "+") || self.peek == UInt8(ascii: "-") { self.index += 1 }
                guard self.digits() > 0 else { return nil }
            }
            return .number(
                String(decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self)
            )
        }

        var peek: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

        mutating func digits() -> Int {
            let start = self.index
            while let byte = self.peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { self.index += 1 }
            return self.index - start
        }

        /// A string starting at the opening quote; escapes decoded, UTF-8 validated.
        mutating func string() -> String? {
            self.index += 1
            let start = self.index
            var hasEscape = false
            while self.index < self.bytes.count {
                let byte = self.bytes[self.index]
                if byte == UInt8(ascii: "\"") { break }
                if byte < 0x20 { return nil }
                if byte == UInt8(ascii: "\\") {
                    hasEscape = true
                    self.index += 1
                }
                self.index += 1
            }
            guard self.index < self.bytes.count else { return nil }
            let raw = UnsafeBufferPointer(rebasing: self.bytes[start..<self.index])
            self.index += 1
            return hasEscape ? Self.unescape(raw) : String(validating: raw, as: UTF8.self)
        }

        static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
            var out: [UInt8] = []
            out.reserveCapacity(raw.count)
            var i = 0
            while i < raw.count {
                let byte = raw[i]
                guard byte == UInt8(ascii: "\\") else {
                    out.append(byte)
                    i += 1
                    continue
                }
                guard i + 1 < raw.count else { return nil }
                let escape = raw[i + 1]
                i += 2
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4(raw, i) else { return nil }
                    i += 4
                    if (0xD800..<0xDC00).contains(scalar) {
                        // A high surrogate must be followed by an escaped low one.
                        guard i + 6 <= raw.count, raw[i] == UInt8(ascii: "\\"), raw[i + 1] == UInt8(ascii: "u"),
                            let low = hex4(raw, i + 2), (0xDC00..<0xE000).contains(low)
                        else { return nil }
                        i += 6
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { return nil }
                    out.append(contentsOf: String(unicode).utf8)
                default:
                    return nil
                }
            }
            return String(validating: out, as: UTF8.self)
        }

        static func hex4(_ raw: UnsafeBufferPointer<UInt8>, _ start: Int) -> UInt32? {
            guard start + 4 <= raw.count else { return nil }
            var value: UInt32 = 0
            for byte in raw[start..<(start + 4)] {
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
    }
}
