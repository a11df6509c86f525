// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore

/// What every console page shows around its content: navigation, the signed-in user, the CSRF token.
struct Chrome {
    struct Link {
        var href: String
        var label: String
        var current: Bool
    }

    struct User {
        var name: String
        var role: String
    }

    var csrf: String
    var nav: [Link]
    var user: User?

    /// The chrome of the page at `path` for `session` (no user shown when no sign-in is needed).
    init(path: String, session: ConsoleSession, csrf: String, showsUser: Bool) {
        self.csrf = csrf
        let pages = [
            ("/", "Models"), ("/playground", "Playground"), ("/logs", "Logs"), ("/spend", "Spend"), ("/keys", "Keys"),
        ]
        self.nav = pages.map { href, label in
            Link(
                href: href,
                label: label,
                current: href == "/" ? (path == "/" || path.hasPrefix("/models/")) : path.hasPrefix(href)
            )
        }
        self.user = showsUser ? User(name: session.name, role: session.role.rawValue) : nil
    }
}

/// Number and money formatting for pages.
enum ConsoleFormat {
    /// `128,000`, or `—` for none.
    static func count(_ value: Int?) -> String {
        guard let value else { return "—" }
        let digits = String(value.magnitude)
        var grouped = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { grouped += "," }
            grouped.append(digit)
        }
        return value < 0 ? "-" + grouped : grouped
    }

    /// A price per million tokens: `$0.15`, `$0.075`, `$2.50`, or `—`.
    static func price(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "—" }
        var text = Self.decimal(value, digits: 4)
        while text.hasSuffix("0"), let dot = text.firstIndex(of: "."), text.distance(from: dot, to: text.endIndex) > 3 {
            text.removeLast()
        }
        return "$" + text
    }

    /// Dollars: `$0.000435` for small sums, `$12.30` for large ones.
    static func usd(_ value: Double) -> String {
        guard value.isFinite else { return "—" }
        if value == 0 { return "$0" }
        return "$" + Self.decimal(value, digits: value < 1 ? 6 : 2)
    }

    /// A share as a percentage: `99.5%`, or `—`.
    static func percent(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "—" }
        return Self.decimal(value * 100, digits: 1) + "%"
    }

    /// Milliseconds: `412 ms`, or `—`.
    static func milliseconds(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "—" }
        return "\(Int(value.rounded())) ms"
    }

    /// `value` in plain decimal notation with exactly `digits` decimals.
    static func decimal(_ value: Double, digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }

    /// `2026-12-01 14:03:22`, in UTC.
    static func time(_ date: Date) -> String { Self.timeFormatter.string(from: date) }

    /// `2026-12-01`, in UTC.
    static func day(_ date: Date) -> String { Self.dayFormatter.string(from: date) }

    // Made once: a page of 100 log rows formatted 100 times. Formatting from several threads is safe.
    nonisolated(unsafe) private static let timeFormatter = Self.utc("yyyy-MM-dd HH:mm:ss")
    nonisolated(unsafe) private static let dayFormatter = Self.utc("yyyy-MM-dd")

    private static func utc(_ format: String) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = format
        return formatter
    }
}

/// The catalog: every served model, filtered and sorted.
struct CatalogPage {
    struct Row {
        var id: String
        var link: String
        var name: String?
        var context: String
        var maxOutput: String
        var inputPrice: String
        var outputPrice: String
        var modalities: String
        var capabilities: [String]
        var routes: String
    }

    struct Option {
        var value: String
        var label: String
        var selected: Bool
    }

    var chrome: Chrome
    var query: String
    var count: Int
    var capabilities: [Option]
    var sorts: [Option]
    var rows: [Row]

    /// Capabilities the catalog filters on, with their labels.
    static let capabilityFilters: [(key: String, label: String)] = [
        ("vision", "vision"), ("tools", "tools"), ("json_schema", "JSON schema"), ("json_mode", "JSON mode"),
        ("reasoning", "reasoning"), ("prompt_caching", "prompt caching"), ("streaming", "streaming"),
    ]

    /// Sort orders: key, label.
    static let sortOrders: [(key: String, label: String)] = [
        ("name", "name"), ("input_price", "input price"), ("output_price", "output price"),
        ("context", "context window (largest first)"), ("max_output", "max output (largest first)"),
    ]
}

/// One model: facts, routes, live statistics, what to watch out for, and how to call it.
struct ModelPage {
    struct RouteRow {
        var provider: String
        var upstream: String
        var input: String
        var cachedInput: String
        var output: String
        var context: String
        var maxOutput: String
        var zdr: String
        var limits: String
    }

    struct StatsRow {
        var route: String
        var window: String
        var calls: String
        var tps: String
        var ttft: String
        var success: String
        var uptime: String
        var successSpark: String
        var ttftSpark: String
        var tpsSpark: String
    }

    struct Snippet {
        var id: String
        var title: String
        var code: String
    }

    var chrome: Chrome
    var id: String
    var name: String?
    var kind: String
    var context: String
    var maxOutput: String
    var prices: String
    var modalities: String
    var cutoff: String
    var strategy: String
    var capabilities: [String]
    var parameters: [String]
    var hasWarnings: Bool
    var warnings: [String]
    var routes: [RouteRow]
    var stats: [StatsRow]
    var snippets: [Snippet]
}

/// The sign-in form.
struct LoginPage {
    var chrome: Chrome?
    var csrf: String
    var next: String
    var error: String?
    /// The identity provider's name, when the console may sign in through it.
    var sso: String?
    var ssoLink: String
}

/// A page with a heading and one sentence (not found, not allowed).
struct MessagePage {
    var chrome: Chrome
    var heading: String
    var text: String
}

/// The request log, filtered.
struct LogsPage {
    struct Row {
        var id: String
        var time: String
        var model: String
        var route: String
        var key: String
        var status: Int
        var statusClass: Int
        var tokens: String
        var cost: String
        var latency: String
        var ttft: String
    }

    var chrome: Chrome
    var q: String
    var model: String
    var key: String
    var status: String
    var exportQuery: String
    var rows: [Row]
    var older: String?
}

/// One request of the log.
struct LogPage {
    struct Field {
        var name: String
        var value: String
    }

    var chrome: Chrome
    var id: String
    var fields: [Field]
    var requestBody: String?
    var responseBody: String?
    var bodyNote: String
}

/// Spend charts and budgets.
struct SpendPage {
    struct Total {
        var name: String
        var calls: String
        var input: String
        var output: String
        var cost: String
        /// What cache hits saved.
        var saved: String
    }

    struct Budget {
        var name: String
        var budget: String
        var period: String
        var spent: String
        var remaining: String
    }

    var chrome: Chrome
    var days: Int
    var total: String
    /// What cache hits saved in the range.
    var saved: String
    var dimensions: [CatalogPage.Option]
    var ranges: [CatalogPage.Option]
    var byLabel: String
    var costChart: String
    var callsChart: String
    var totals: [Total]
    var budgets: [Budget]
}

/// Virtual keys: the list, and for admins the forms that change them.
struct KeysPage {
    struct Row {
        var id: String
        var name: String
        var role: String
        var team: String
        var models: String
        var budget: String
        var created: String
        var state: String
        var active: Bool
    }

    struct Secret {
        var name: String
        var value: String
    }

    var chrome: Chrome
    var csrf: String
    var canChange: Bool
    var secret: Secret?
    var error: String?
    var rows: [Row]
}

/// Two models side by side.
struct PlaygroundPage {
    var chrome: Chrome
    var models: [String]
}
