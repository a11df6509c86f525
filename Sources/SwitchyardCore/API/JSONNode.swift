// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Any JSON value, for the parts of a wire format the gateway carries without reading
/// (JSON schemas, tool parameters, provider-specific fields).
public enum JSONNode: Sendable, Equatable, Codable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number.
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONNode])
    /// An object; key order is not kept.
    case object([String: JSONNode])

    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONNode].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONNode].self))
        }
    }

    /// Encodes the value as it was.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            // Whole numbers print without a fraction, as they usually arrived (`"maxItems": 3`).
            if value.rounded() == value, abs(value) < 1e15 {
                try container.encode(Int64(value))
            } else {
                try container.encode(value)
            }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The member `key` of an object.
    public subscript(key: String) -> JSONNode? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The string, if this is one.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// Parses JSON text with the gateway's strict byte parser (no `Decodable` machinery, which costs
    /// several times more); `nil` when it is not JSON, nests past ``JSONText/maxNesting``, or has a
    /// number no `Double` can hold.
    public init?(parsing bytes: some Collection<UInt8>) {
        guard let value = JSONValue.parse(Array(bytes)), let node = JSONNode(value) else { return nil }
        self = node
    }

    private init?(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .string(let text): self = .string(text)
        case .number(let text):
            guard let number = Double(text), number.isFinite else { return nil }
            self = .number(number)
        case .array(let items):
            var nodes: [JSONNode] = []
            nodes.reserveCapacity(items.count)
            for item in items {
                guard let node = JSONNode(item) else { return nil }
                nodes.append(node)
            }
            self = .array(nodes)
        case .object(let members):
            var nodes: [String: JSONNode] = [:]
            nodes.reserveCapacity(members.count)
            for (key, member) in members {
                guard let node = JSONNode(member) else { return nil }
                nodes[key] = node
            }
            self = .object(nodes)
        }
    }

    /// The elements, if this is an array.
    public var arrayValue: [JSONNode]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The number as an `Int`, if this is a whole number in range.
    public var intValue: Int? {
        guard case .number(let value) = self, value.rounded() == value, abs(value) < 9e15 else { return nil }
        return Int(value)
    }

    /// The compact JSON text.
    public var text: String {
        (try? JSONDecoderFactory.encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

/// A wire value that is a plain string or a list, as message content is in OpenAI's and Anthropic's APIs.
public enum TextOrList<Element: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    /// A plain string.
    case text(String)
    /// A list of parts or blocks.
    case list([Element])

    /// Decodes a string or a list.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else {
            self = .list(try container.decode([Element].self))
        }
    }

    /// Encodes the string or the list.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .list(let list): try container.encode(list)
        }
    }
}
