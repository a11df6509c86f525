// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Small inline SVG charts for the console: sparklines and stacked bars.
///
/// Output uses presentation attributes only (no `style`), so the strict Content-Security-Policy
/// holds; every label is HTML-escaped and every number formatted here.
enum SVGChart {
    /// Colours of the series, in order; further series reuse them.
    private static let faint = "#cccccc"
    private static let axis = "#999999"
    private static let ink = "#555555"

    static let palette = ["#2f6fde", "#e07b24", "#2a9d6f", "#b84cc4", "#d24b4b", "#8a7a22", "#3aa6b9", "#6b6b6b"]

    /// A sparkline of `values` (gaps where `nil`), scaled between their minimum and maximum.
    static func sparkline(_ values: [Double?], label: String, width: Double = 120, height: Double = 24) -> String {
        let known = values.compactMap { $0 }
        let header =
            #"<svg class="spark" viewBox="0 0 \#(Self.number(width)) \#(Self.number(height))" width="\#(Self.number(width))" height="\#(Self.number(height))" role="img" aria-label="\#(Self.escape(label))">"#
        guard let low = known.min(), let high = known.max(), values.count > 1 else {
            return header
                + #"<line x1="0" y1="\#(Self.number(height - 1))" x2="\#(Self.number(width))" y2="\#(Self.number(height - 1))" stroke="\#(Self.faint)" stroke-width="1"/></svg>"#
        }
        let span = high - low
        let stepX = width / Double(values.count - 1)
        var segments: [[String]] = [[]]
        for (index, value) in values.enumerated() {
            guard let value else {
                if !(segments.last?.isEmpty ?? true) { segments.append([]) }
                continue
            }
            let y = span > 0 ? (height - 2) - (value - low) / span * (height - 4) : height / 2
            segments[segments.count - 1].append("\(Self.number(Double(index) * stepX)),\(Self.number(y))")
        }
        var body = ""
        for segment in segments where !segment.isEmpty {
            if segment.count == 1 {
                let xy = segment[0].split(separator: ",")
                // A lone point sits inside the box, not on its edge, and is large enough to see.
                let x = min(max(Double(xy[0]) ?? 0, 3), width - 3)
                body += #"<circle cx="\#(Self.number(x))" cy="\#(xy[1])" r="2.5" fill="currentColor"/>"#
            } else {
                body +=
                    #"<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="\#(segment.joined(separator: " "))"/>"#
            }
        }
        return header + body + "</svg>"
    }

    /// One bar group per category (a day), its series stacked; a legend follows the chart.
    static func stackedBars(
        categories: [String],
        series: [(name: String, values: [Double])],
        label: String,
        format: (Double) -> String,
        width: Double = 720,
        height: Double = 200
    ) -> String {
        let totals = categories.indices.map { index in series.reduce(0) { $0 + ($1.values[safe: index] ?? 0) } }
        let top = max(totals.max() ?? 0, 1e-12)
        let left = 84.0
        let bottom = 22.0
        let plotWidth = width - left - 8
        let plotHeight = height - bottom - 8
        let slot = categories.isEmpty ? plotWidth : plotWidth / Double(categories.count)
        let barWidth = max(2, slot * 0.7)
        var svg =
            #"<svg class="chart" viewBox="0 0 \#(Self.number(width)) \#(Self.number(height))" role="img" aria-label="\#(Self.escape(label))">"#
        // Axis: zero and the top value.
        svg +=
            #"<line x1="\#(Self.number(left))" y1="\#(Self.number(8 + plotHeight))" x2="\#(Self.number(width - 8))" y2="\#(Self.number(8 + plotHeight))" stroke="\#(Self.axis)" stroke-width="1"/>"#
        svg +=
            #"<text x="\#(Self.number(left - 6))" y="14" text-anchor="end" font-size="11" fill="\#(Self.ink)">\#(Self.escape(format(top)))</text>"#
        svg +=
            #"<text x="\#(Self.number(left - 6))" y="\#(Self.number(8 + plotHeight))" text-anchor="end" font-size="11" fill="\#(Self.ink)">\#(Self.escape(format(0)))</text>"#
        for (index, category) in categories.enumerated() {
            let x = left + Double(index) * slot + (slot - barWidth) / 2
            var y = 8 + plotHeight
            for (number, entry) in series.enumerated() {
                let value = entry.values[safe: index] ?? 0
                guard value > 0 else { continue }
                let barHeight = value / top * plotHeight
                y -= barHeight
                svg +=
                    #"<rect x="\#(Self.number(x))" y="\#(Self.number(y))" width="\#(Self.number(barWidth))" height="\#(Self.number(barHeight))" fill="\#(Self.palette[number % Self.palette.count])"><title>\#(Self.escape("\(category) · \(entry.name): \(format(value))"))</title></rect>"#
            }
            // Label every category when there are few, else about eight of them.
            let every = max(1, categories.count / 8)
            if index % every == 0 {
                svg +=
                    #"<text x="\#(Self.number(x + barWidth / 2))" y="\#(Self.number(height - 6))" text-anchor="middle" font-size="10" fill="\#(Self.ink)">\#(Self.escape(String(category.suffix(5))))</text>"#
            }
        }
        svg += "</svg>"
        svg += #"<ul class="legend">"#
        for (number, entry) in series.enumerated() {
            svg +=
                #"<li><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="\#(Self.palette[number % Self.palette.count])"/></svg> \#(Self.escape(entry.name))</li>"#
        }
        return svg + "</ul>"
    }

    /// A number with at most two decimals and no exponent.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.2f", rounded)
    }

    /// `text` safe inside HTML text and attribute values.
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

extension Array {
    /// The element at `index`, or `nil` outside the array.
    subscript(safe index: Int) -> Element? { self.indices.contains(index) ? self[index] : nil }
}
