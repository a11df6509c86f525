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
        let names = Set(Key.allCases.map(\.stringValue))
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

    /// Decodes `500ms`, `2s`, `1.5s`, `10m`, `1h` or a bare number of seconds.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let seconds = try? container.decode(Double.self) {
            self.duration = .milliseconds(Int64(seconds * 1000))
            return
        }
        let text = try container.decode(String.self).trimmingCharacters(in: .whitespaces)
        guard let parsed = ConfigDuration(parsing: text) else {
            throw ConfigurationError(
                "`\(configPath(decoder.codingPath))` must be a duration such as 500ms, 2s, 10m or 1h; got `\(text)`"
            )
        }
        self = parsed
    }

    /// Parses `500ms`, `2s`, `10m`, `1h`.
    public init?(parsing text: String) {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value >= 0 else { continue }
            self.duration = .milliseconds(Int64(value * scale * 1000))
            return
        }
        return nil
    }

    /// Milliseconds, for logs and clients that take integers.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = self.duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// `1500ms`.
    public var description: String { "\(self.milliseconds)ms" }
}
