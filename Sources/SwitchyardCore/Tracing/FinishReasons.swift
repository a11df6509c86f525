// SPDX-License-Identifier: Apache-2.0

/// Reads the `finish_reason` values of an OpenAI-format body or stream event without decoding it,
/// for traces (`gen_ai.response.finish_reasons`).
///
/// Only well-formed values are kept: a string of 1 to 64 bytes of `a`–`z` and `_`, at most
/// ``limit`` distinct ones, so an upstream cannot grow a span with them.
public enum FinishReasons {
    /// Most distinct reasons kept.
    public static let limit = 8
    private static let key = Array(#""finish_reason""#.utf8)
    private static let longest = 64

    /// Appends the new reasons found in `bytes` to `reasons`, in order of appearance.
    public static func scan<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, into reasons: inout [String])
    where Bytes.Index == Int {
        var index = bytes.startIndex
        while reasons.count < Self.limit, let found = Self.find(Self.key, in: bytes, from: index) {
            index = found + Self.key.count
            index = Self.skipSpaces(bytes, from: index)
            guard index < bytes.endIndex, bytes[index] == UInt8(ascii: ":") else { continue }
            index = Self.skipSpaces(bytes, from: index + 1)
            guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "\"") else { continue }
            let start = index + 1
            var end = start
            while end < bytes.endIndex, end - start <= Self.longest, Self.isReasonByte(bytes[end]) { end += 1 }
            guard end < bytes.endIndex, bytes[end] == UInt8(ascii: "\""), end > start, end - start <= Self.longest
            else { continue }
            let reason = String(decoding: bytes[start..<end], as: UTF8.self)
            if !reasons.contains(reason) { reasons.append(reason) }
            index = end + 1
        }
    }

    private static func isReasonByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || byte == UInt8(ascii: "_")
    }

    private static func skipSpaces<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, from start: Int) -> Int
    where Bytes.Index == Int {
        var index = start
        while index < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        return index
    }

    private static func find<Bytes: RandomAccessCollection<UInt8>>(
        _ needle: [UInt8],
        in bytes: Bytes,
        from start: Int
    ) -> Int? where Bytes.Index == Int {
        guard bytes.endIndex - start >= needle.count else { return nil }
        var index = start
        while index <= bytes.endIndex - needle.count {
            if bytes[index] == needle[0] {
                var matched = 1
                while matched < needle.count, bytes[index + matched] == needle[matched] { matched += 1 }
                if matched == needle.count { return index }
            }
            index += 1
        }
        return nil
    }
}
