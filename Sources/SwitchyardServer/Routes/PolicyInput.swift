// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore

/// Reads `budget: {usd, period}` and `limits: {rpm, tpm}` from an admin API body, naming the member
/// at fault in a 400.
enum PolicyInput {
    /// The budget in `value` (a decoded JSON object), or `nil` when absent or null.
    static func budget(_ value: Any?, path: String) throws(GatewayError) -> Budget? {
        guard let object = try Self.object(value, path: path, example: "{\"usd\": 25, \"period\": \"monthly\"}") else {
            return nil
        }
        try Self.onlyMembers(object, ["usd", "period"], path: path)
        guard let usd = Self.number(object["usd"]) else {
            throw .invalidRequest("`\(path).usd` must be a number of US dollars.", param: "\(path).usd")
        }
        let period = object["period"] ?? "monthly"
        guard let period = period as? String else {
            throw .invalidRequest("`\(path).period` must be daily, weekly, monthly or total.", param: "\(path).period")
        }
        do {
            return try Budget(usd: usd, period: period)
        } catch {
            throw Self.error(error, path: path)
        }
    }

    /// The limits in `value` (a decoded JSON object), or `nil` when absent or null.
    static func limits(_ value: Any?, path: String) throws(GatewayError) -> RateLimits? {
        guard let object = try Self.object(value, path: path, example: "{\"rpm\": 600, \"tpm\": 200000}") else {
            return nil
        }
        try Self.onlyMembers(object, ["rpm", "tpm", "providers"], path: path)
        var providers: [String: RateLimits]?
        if let raw = object["providers"], !(raw is NSNull) {
            guard let map = raw as? [String: Any], map.count <= RateLimits.maximumProviders else {
                throw .invalidRequest(
                    "`\(path).providers` must map at most 64 provider names to {\"rpm\": …, \"tpm\": …}.",
                    param: "\(path).providers"
                )
            }
            var parsed: [String: RateLimits] = [:]
            for name in map.keys.sorted() {
                let inner = "\(path).providers.\(name)"
                if let nested = map[name] as? [String: Any], nested["providers"] != nil {
                    throw .invalidRequest("`\(inner).providers`: limits per provider do not nest.", param: inner)
                }
                parsed[name] = try Self.limits(map[name], path: inner)
            }
            providers = parsed
        }
        var values: [String: Int] = [:]
        for name in ["rpm", "tpm"] {
            guard let raw = object[name], !(raw is NSNull) else { continue }
            guard let number = Self.number(raw), number.rounded() == number, abs(number) < 1e15 else {
                throw .invalidRequest("`\(path).\(name)` must be a whole number.", param: "\(path).\(name)")
            }
            values[name] = Int(number)
        }
        do {
            return try RateLimits(rpm: values["rpm"], tpm: values["tpm"], providers: providers)
        } catch {
            throw Self.error(error, path: path)
        }
    }

    private static func object(_ value: Any?, path: String, example: String) throws(GatewayError) -> [String: Any]? {
        guard let value, !(value is NSNull) else { return nil }
        guard let object = value as? [String: Any] else {
            throw .invalidRequest("`\(path)` must be an object such as \(example).", param: path)
        }
        return object
    }

    private static func onlyMembers(_ object: [String: Any], _ known: [String], path: String) throws(GatewayError) {
        for name in object.keys.sorted() where !known.contains(name) {
            throw .invalidRequest(
                "`\(path).\(name)` is not a setting; known: \(known.joined(separator: ", ")).",
                param: "\(path).\(name)"
            )
        }
    }

    /// A JSON number (not a boolean, which Foundation also hands over as a number).
    private static func number(_ value: Any?) -> Double? {
        guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else { return nil }
        return number.doubleValue
    }

    private static func error(_ error: PolicyError, path: String) -> GatewayError {
        let param = error.member.map { "\(path).\($0)" } ?? path
        return .invalidRequest("`\(path)`: \(error.message)", param: param, code: "invalid_value")
    }
}
