// SPDX-License-Identifier: Apache-2.0

/// Finds the byte ranges of the top-level members of a JSON object without decoding it.
///
/// The gateway forwards request and response bodies unchanged except for a few members
/// (`model`, `stream_options`, `usage`). Scanning costs a fraction of a decode and re-encode,
/// and leaves every other byte exactly as the client or the upstream wrote it.
///
/// ```swift
/// let members = try JSONObjectScanner.members(of: Array(#"{"model":"a","n":2}"#.utf8))
/// members["model"]  // the range of `"a"`
/// ```
public enum JSONObjectScanner {
    /// The location of one top-level member.
    public struct Member: Sendable, Equatable {
        /// The range of the whole `"key": value` pair.
        public var pair: Range<Int>
        /// The range of the value alone.
        public var value: Range<Int>
    }

    /// Thrown when the bytes are not a well-formed JSON object.
    public struct MalformedJSON: Error, Equatable {
        /// Byte offset where scanning failed.
        public var offset: Int
    }

    /// Returns the top-level members of the object in `bytes`, keyed by their (unescaped) name.
    ///
    /// The object's closing brace position is returned as `end`.
    public static func members(
        of bytes: some RandomAccessCollection<UInt8>
    ) throws -> (members: [String: Member], end: Int) {
        try bytes.withContiguousStorageIfAvailable { try scan($0) }
            ?? Array(bytes).withUnsafeBufferPointer { try scan($0) }
    }

    private static func scan(_ b: UnsafeBufferPointer<UInt8>) throws -> (members: [String: Member], end: Int) {
        var i = skipWhitespace(b, 0)
        guard i < b.count, b[i] == UInt8(ascii: "{") else { throw MalformedJSON(offset: i) }
        i += 1
        var result: [String: Member] = [:]
        i = skipWhitespace(b, i)
        if i < b.count, b[i] == UInt8(ascii: "}") { return (result, i) }
        while i < b.count {
            i = skipWhitespace(b, i)
            let pairStart = i
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw MalformedJSON(offset: i) }
            let keyEnd = try skipString(b, i)
            let key = try decodeKey(b, i, keyEnd)
            i = skipWhitespace(b, keyEnd)
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw MalformedJSON(offset: i) }
            i = skipWhitespace(b, i + 1)
            let valueStart = i
            let valueEnd = try skipValue(b, i)
            result[key] = Member(pair: pairStart..<valueEnd, value: valueStart..<valueEnd)
            i = skipWhitespace(b, valueEnd)
            guard i < b.count else { break }
            if b[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if b[i] == UInt8(ascii: "}") { return (result, i) }
            throw MalformedJSON(offset: i)
        }
        throw MalformedJSON(offset: b.count)
    }

    private static func skipWhitespace(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var i = start
        while i < b.count {
            switch b[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return i
            }
        }
        return i
    }

    /// Returns the index just past the closing quote of the string starting at `start`.
    private static func skipString(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) throws -> Int {
        var i = start + 1
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i + 1
            default: i += 1
            }
        }
        throw MalformedJSON(offset: start)
    }

    private static func decodeKey(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) throws -> String {
        let raw = UnsafeBufferPointer(rebasing: b[(start + 1)..<(end - 1)])
        if !raw.contains(UInt8(ascii: "\\")) { return String(decoding: raw, as: UTF8.self) }
        guard let key = JSONValue.parse(Array(b[start..<end]))?.string else { throw MalformedJSON(offset: start) }
        return key
    }

    /// Returns the index just past the value starting at `start`.
    private static func skipValue(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) throws -> Int {
        guard start < b.count else { throw MalformedJSON(offset: start) }
        switch b[start] {
        case UInt8(ascii: "\""):
            return try skipString(b, start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = start
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: "\""):
                    i = try skipString(b, i)
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default:
                    break
                }
                i += 1
            }
            throw MalformedJSON(offset: start)
        default:
            var i = start
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D:
                    guard i > start else { throw MalformedJSON(offset: i) }
                    return i
                default:
                    i += 1
                }
            }
            guard i > start else { throw MalformedJSON(offset: i) }
            return i
        }
    }
}
