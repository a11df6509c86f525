// SPDX-License-Identifier: Apache-2.0

/// Recognises inputs that hit a known, reported bug, so a target can skip them and keep looking for others.
///
/// Each check is temporary: remove it, and its call sites, once the bug is fixed. The crashing inputs
/// stay in `Fuzz/Crashes/` as regression inputs, which `scripts/fuzz` runs on every fuzz run.
public enum KnownBugs {
    /// Whether `bytes` nest JSON arrays or objects deeper than 512 levels.
    ///
    /// Foundation's `JSONDecoder` (Swift 6.3.1 toolchain) traps, in
    /// `JSONError.SourceLocation.sourceLocation(at:fullSource:)`, instead of throwing when the bracket that
    /// passes its 512-level limit is the last byte of the input: 513 `[` for example. Brackets inside
    /// strings do not count.
    public static func nestsDeeperThanJSONDecoderAllows(_ bytes: some Sequence<UInt8>) -> Bool {
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
                if depth > 512 { return true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return false
    }
}
