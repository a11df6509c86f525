// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A configuration problem, with a message that names the key path and says how to fix it.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The full message.
    public var message: String

    /// Creates an error with `message`.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { self.message }
}

/// The dotted key path of a coding path, as config error messages print it (`models.gpt-4o.routes[0]`).
public func configPath(_ codingPath: [any CodingKey], _ last: String? = nil) -> String {
    var path = codingPath.reduce("") { partial, key in
        if let index = key.intValue { return partial + "[\(index)]" }
        return partial.isEmpty ? key.stringValue : partial + "." + key.stringValue
    }
    if let last { path = path.isEmpty ? last : path + "." + last }
    return path
}

extension Decoder {
    /// Throws a ``ConfigurationError`` naming the first key not in `known`.
    ///
    /// Codable ignores unknown keys; a misspelt option silently doing nothing is worse than an error.
    public func rejectUnknownKeys<Key: CodingKey & CaseIterable>(_ known: Key.Type) throws {
        try self.rejectUnknownKeys(Set(Key.allCases.map(\.stringValue)))
    }

    /// Throws a ``ConfigurationError`` naming the first key not in `names`.
    public func rejectUnknownKeys(_ names: Set<String>) throws {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue })
        where !names.contains(key.stringValue) {
            throw ConfigurationError(
                "unknown key `\(configPath(self.codingPath, key.stringValue))`; allowed here: \(names.sorted().joined(separator: ", "))"
            )
        }
    }
}

/// A length of time written as `500ms`, `2s`, `10m`, `1h` or a number of seconds.
public struct ConfigDuration: Sendable, Equatable, Decodable, CustomStringConvertible {
    /// The duration.
    public var duration: Duration

    /// Wraps a duration.
    public init(_ duration: Duration) { self.duration = duration }

    /// The longest duration a config may state: anything longer is a typo, and it keeps conversions exact.
    public static let longest = Duration.seconds(365 * 86_400)

    /// Decodes `500ms`, `2s`, `1.5s`, `10m`, `1h` or a bare number of seconds, up to ``longest``.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let path = configPath(decoder.codingPath)
        if let seconds = try? container.decode(Double.self) {
            guard let parsed = ConfigDuration(seconds: seconds) else {
                throw ConfigurationError("`\(path)` must be a duration between 0 and 365 days; got \(seconds)")
            }
            self = parsed
            return
        }
        let text = try container.decode(String.self).trimmingCharacters(in: .whitespaces)
        guard let parsed = ConfigDuration(parsing: text) else {
            throw ConfigurationError(
                "`\(path)` must be a duration between 0 and 365 days such as 500ms, 2s, 10m or 1h; got `\(text)`"
            )
        }
        self = parsed
    }

    /// Parses `500ms`, `2s`, `10m`, `1h`; `nil` for anything else, negative, or longer than ``longest``.
    public init?(parsing text: String) {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)) else { continue }
            self.init(seconds: value * scale)
            return
        }
        return nil
    }

    /// A duration of `seconds`; `nil` unless it is finite and between zero and ``longest``.
    init?(seconds: Double) {
        guard seconds.isFinite, seconds >= 0, seconds <= Double(Self.longest.components.seconds) else { return nil }
        // Within a year, milliseconds fit Int64 many times over.
        self.duration = .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// Milliseconds, for logs and clients that take integers.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = self.duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// `1500ms`.
    public var description: String { "\(self.milliseconds)ms" }
}

extension KeyedDecodingContainer {
    /// An optional number that must lie in `range` (so never NaN); otherwise a config error naming its path.
    public func decodeIfPresent<Number: Decodable & Comparable>(
        _ type: Number.Type,
        forKey key: Key,
        within range: ClosedRange<Number>
    ) throws -> Number? {
        guard let value = try self.decodeIfPresent(Number.self, forKey: key) else { return nil }
        guard range.contains(value) else {
            throw ConfigurationError(
                "`\(configPath(self.codingPath, key.stringValue))` must be between \(range.lowerBound) and "
                    + "\(range.upperBound); got \(value)"
            )
        }
        return value
    }

    /// An optional duration of at least `minimum`; otherwise a config error naming its path.
    public func decodeDurationIfPresent(
        forKey key: Key,
        atLeast minimum: Duration = .milliseconds(1)
    ) throws -> Duration? {
        guard let value = try self.decodeIfPresent(ConfigDuration.self, forKey: key)?.duration else { return nil }
        guard value >= minimum else {
            throw ConfigurationError(
                "`\(configPath(self.codingPath, key.stringValue))` must be at least \(ConfigDuration(minimum))"
            )
        }
        return value
    }
}
