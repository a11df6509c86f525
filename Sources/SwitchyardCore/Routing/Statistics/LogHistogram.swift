// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Counts of positive values in logarithmic bins, each 12% wider than the one before, so
/// percentiles come out within about 6% whatever the scale, in fixed memory; histograms add up.
struct LogHistogram: Sendable, Equatable {
    static let binCount = 160
    static let growth = 1.12
    private static let logGrowth = log(growth)

    /// Lower edge of the first bin; smaller values count there.
    let minimum: Double
    private(set) var counts: [UInt32]
    private(set) var total: Int

    init(minimum: Double) {
        self.minimum = minimum
        self.counts = []
        self.total = 0
    }

    /// Counts `value`; values that are not finite and positive are ignored.
    mutating func add(_ value: Double) {
        guard value.isFinite, value > 0 else { return }
        if self.counts.isEmpty { self.counts = Array(repeating: 0, count: Self.binCount) }
        let scaled = log(max(value, self.minimum) / self.minimum) / Self.logGrowth
        let bin = min(Self.binCount - 1, Int(scaled))
        self.counts[bin] &+= 1
        self.total += 1
    }

    /// Adds `other`'s counts (same minimum).
    mutating func merge(_ other: LogHistogram) {
        guard other.total > 0 else { return }
        if self.counts.isEmpty { self.counts = Array(repeating: 0, count: Self.binCount) }
        for index in 0..<Self.binCount { self.counts[index] &+= other.counts[index] }
        self.total += other.total
    }

    /// The value below which `fraction` (0…1) of the counts lie: the geometric middle of its bin.
    func percentile(_ fraction: Double) -> Double? {
        guard self.total > 0 else { return nil }
        let rank = max(1, Int((fraction * Double(self.total)).rounded(.up)))
        var seen = 0
        for (index, count) in self.counts.enumerated() {
            seen += Int(count)
            if seen >= rank { return self.minimum * pow(Self.growth, Double(index) + 0.5) }
        }
        return nil
    }
}
