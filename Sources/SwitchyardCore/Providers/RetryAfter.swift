// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Reads an upstream's `retry-after-ms` or `retry-after` header with checked conversions.
///
/// An upstream's headers are untrusted input: `inf`, `nan`, `-1` or `1e300` must neither trap
/// nor make the gateway wait for ever.
public enum RetryAfter {
    /// What the headers say about waiting.
    public enum Reading: Sendable, Equatable {
        /// No usable value: absent, or an HTTP-date (which the gateway does not wait for).
        case absent
        /// Wait this long; values above ``longest`` are cut to it.
        case after(Duration)
        /// A number no server means: negative, not finite. The answer is malformed.
        case invalid(String)

        /// The wait, when there is one to honour.
        public var wait: Duration? {
            if case .after(let wait) = self { return wait }
            return nil
        }
    }

    /// The longest wait a header can state; far beyond any retry policy, so it always means "move on".
    public static let longest = Duration.seconds(86_400)

    /// Reads `retry-after-ms` (milliseconds) or else `retry-after` (seconds); header names in any case.
    public static func read(_ headers: [(String, String)]) -> Reading {
        var milliseconds: String?
        var seconds: String?
        for (name, value) in headers {
            switch name.lowercased() {
            case "retry-after-ms": milliseconds = milliseconds ?? value
            case "retry-after": seconds = seconds ?? value
            default: continue
            }
        }
        if let milliseconds { return self.reading(milliseconds, name: "retry-after-ms", unit: 0.001) }
        if let seconds { return self.reading(seconds, name: "retry-after", unit: 1) }
        return .absent
    }

    private static func reading(_ text: String, name: String, unit: Double) -> Reading {
        let trimmed = text.trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
        // Anything that does not start like a number is treated as a date (or noise) and ignored.
        guard let first = trimmed.utf8.first,
            first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
                || first == UInt8(ascii: "i") || first == UInt8(ascii: "I") || first == UInt8(ascii: "n")
                || first == UInt8(ascii: "N")
        else { return .absent }
        guard let number = Double(trimmed) else {
            return .invalid("`\(name): \(trimmed.prefix(40))` is not a number")
        }
        guard number.isFinite, number >= 0 else {
            return .invalid("`\(name): \(trimmed.prefix(40))` is not a non-negative finite number")
        }
        let limit = Double(self.longest.components.seconds)
        let secondsValue = number * unit
        guard secondsValue < limit else { return .after(self.longest) }
        // Below a day in milliseconds, the conversion to Int64 cannot overflow.
        return .after(.milliseconds(Int64((secondsValue * 1000).rounded(.up))))
    }
}
