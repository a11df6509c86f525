// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization

/// The semantic cache's vectors, in this process, grouped by context key: a lookup scans only the
/// entries whose context (namespace, model, system prompt, earlier turns, parameters) equals the
/// request's, and never waits for a database.
///
/// Each vector is kept twice, small: its signs (one bit per dimension) and its values quantised to
/// 8 bits with one scale. A lookup first compares signs: the share of differing bits estimates the
/// angle between two vectors, and entries whose bits differ far more than the threshold's angle
/// allows (with a margin of four standard deviations) are skipped. The rest are scored on their
/// 8-bit values, and only an entry whose ``PromptSignature`` agrees with the request's can match.
public final class SemanticIndex: Sendable {
    /// A stored entry that answers a request.
    public struct Match: Sendable, Equatable {
        /// The stored entry's exact key.
        public var key: String
        /// The estimated cosine similarity of the two last user turns.
        public var similarity: Double
    }

    /// What the index keeps of an entry besides its vector.
    struct Meta {
        var key: String
        var signature: PromptSignature
        var expiresAt: Double
        var namespace: String
        var model: String
    }

    /// The entries of one context, in columns.
    struct Bucket {
        var signs: [UInt64] = []
        var values: [Int8] = []
        var scales: [Float] = []
        var metas: [Meta] = []
    }

    struct State {
        var dimensions = 0
        var buckets: [String: Bucket] = [:]
        /// Where each key is: its context and position.
        var places: [String: (context: String, position: Int)] = [:]
        /// Keys in insertion order, for evicting the oldest; removed keys are skipped when reached.
        var order: [String] = []
        var orderStart = 0
    }

    private let state = Mutex(State())
    /// The most entries held.
    public let capacity: Int
    /// The longest vector accepted.
    public static let maxDimensions = 8192

    /// An empty index holding at most `capacity` entries.
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// How many entries the index holds.
    public var count: Int { self.state.withLock { $0.places.count } }

    /// Adds (or replaces) the entry `key` of `context` with its last user turn's `vector`; vectors of
    /// another length than the index's first, empty or not finite ones are refused (`false`).
    @discardableResult
    public func insert(
        key: String,
        context: String,
        vector: [Float],
        signature: PromptSignature,
        expiresAt: Date,
        namespace: String,
        model: String
    ) -> Bool {
        guard let (signs, values, scale) = Self.quantise(vector) else { return false }
        let meta = Meta(
            key: key,
            signature: signature,
            expiresAt: expiresAt.timeIntervalSince1970,
            namespace: namespace,
            model: model
        )
        return self.state.withLock { state in
            if state.dimensions == 0 { state.dimensions = vector.count }
            guard state.dimensions == vector.count else { return false }
            if state.places[key] != nil { Self.remove(key, from: &state) }
            while state.places.count >= self.capacity, state.orderStart < state.order.count {
                let oldest = state.order[state.orderStart]
                state.orderStart += 1
                Self.remove(oldest, from: &state)
            }
            if state.orderStart > 4096, state.orderStart * 2 > state.order.count {
                state.order.removeFirst(state.orderStart)
                state.orderStart = 0
            }
            var bucket = state.buckets.removeValue(forKey: context) ?? Bucket()
            bucket.signs += signs
            bucket.values += values
            bucket.scales.append(scale)
            bucket.metas.append(meta)
            state.places[key] = (context, bucket.metas.count - 1)
            state.buckets[context] = bucket
            state.order.append(key)
            return true
        }
    }

    /// The most similar live entry of `context` at or above `threshold` whose signature agrees with `signature`.
    public func nearest(
        context: String,
        vector: [Float],
        signature: PromptSignature,
        threshold: Double,
        now: Date = Date()
    ) -> Match? {
        guard let (signs, values, scale) = Self.quantise(vector) else { return nil }
        let time = now.timeIntervalSince1970
        return self.state.withLock { state -> Match? in
            guard state.dimensions == vector.count, let bucket = state.buckets[context] else { return nil }
            let words = signs.count
            let dimensions = vector.count
            let allowed = Self.allowedSignDifference(threshold: threshold, dimensions: dimensions)
            var best: (position: Int, similarity: Double)?
            bucket.signs.withUnsafeBufferPointer { storedSigns in
                bucket.values.withUnsafeBufferPointer { storedValues in
                    values.withUnsafeBufferPointer { query in
                        for position in 0..<bucket.metas.count {
                            var differing = 0
                            let base = position * words
                            for word in 0..<words {
                                differing += (storedSigns[base + word] ^ signs[word]).nonzeroBitCount
                            }
                            guard differing <= allowed else { continue }
                            let similarity =
                                Double(Self.dot(query, storedValues, offset: position * dimensions, count: dimensions))
                                * Double(scale) * Double(bucket.scales[position])
                            guard similarity >= threshold, similarity > (best?.similarity ?? -2) else { continue }
                            let meta = bucket.metas[position]
                            guard meta.expiresAt > time, meta.signature.agrees(with: signature) else { continue }
                            best = (position, similarity)
                        }
                    }
                }
            }
            return best.map { Match(key: bucket.metas[$0.position].key, similarity: min(1, $0.similarity)) }
        }
    }

    /// Removes the entry `key`, if held.
    public func remove(key: String) {
        self.state.withLock { Self.remove(key, from: &$0) }
    }

    /// Removes every entry of `namespace` and `model` (each `nil` for all); returns how many.
    @discardableResult
    public func removeAll(namespace: String? = nil, model: String? = nil, expiredAt now: Date? = nil) -> Int {
        let time = now?.timeIntervalSince1970
        return self.state.withLock { state in
            var doomed: [String] = []
            for bucket in state.buckets.values {
                for meta in bucket.metas
                where (namespace == nil || meta.namespace == namespace) && (model == nil || meta.model == model)
                    && (time == nil || meta.expiresAt <= time!)
                {
                    doomed.append(meta.key)
                }
            }
            for key in doomed { Self.remove(key, from: &state) }
            return doomed.count
        }
    }

    /// Takes `key` out of its bucket by moving the bucket's last entry into its place.
    private static func remove(_ key: String, from state: inout State) {
        guard let (context, position) = state.places.removeValue(forKey: key),
            var bucket = state.buckets.removeValue(forKey: context)
        else { return }
        let last = bucket.metas.count - 1
        let words = bucket.signs.count / max(bucket.metas.count, 1)
        let dimensions = bucket.values.count / max(bucket.metas.count, 1)
        if position != last {
            for word in 0..<words { bucket.signs[position * words + word] = bucket.signs[last * words + word] }
            for index in 0..<dimensions {
                bucket.values[position * dimensions + index] = bucket.values[last * dimensions + index]
            }
            bucket.scales[position] = bucket.scales[last]
            bucket.metas[position] = bucket.metas[last]
            state.places[bucket.metas[position].key] = (context, position)
        }
        bucket.signs.removeLast(words)
        bucket.values.removeLast(dimensions)
        bucket.scales.removeLast()
        bucket.metas.removeLast()
        if !bucket.metas.isEmpty { state.buckets[context] = bucket }
    }

    /// How many sign bits may differ for a cosine of `threshold`: the expected share for its angle
    /// (angle / π) plus four standard deviations.
    static func allowedSignDifference(threshold: Double, dimensions: Int) -> Int {
        let angle = acos(max(-1, min(1, threshold)))
        let expected = Double(dimensions) * angle / .pi
        return Int(expected + 4 * (Double(dimensions) * 0.25).squareRoot()) + 1
    }

    /// The vector normalised to unit length, as sign bits, 8-bit values and their scale; `nil` when
    /// empty, too long, not finite or all zero.
    static func quantise(_ vector: [Float]) -> (signs: [UInt64], values: [Int8], scale: Float)? {
        guard !vector.isEmpty, vector.count <= Self.maxDimensions else { return nil }
        var squares: Float = 0
        var largest: Float = 0
        for value in vector {
            guard value.isFinite else { return nil }
            squares += value * value
            largest = max(largest, abs(value))
        }
        guard squares > 0, squares.isFinite, largest > 0 else { return nil }
        let norm = squares.squareRoot()
        let scale = largest / norm / 127
        var signs = [UInt64](repeating: 0, count: (vector.count + 63) / 64)
        var values = [Int8](repeating: 0, count: vector.count)
        for (index, value) in vector.enumerated() {
            let unit = value / norm
            if unit > 0 { signs[index / 64] |= 1 << UInt64(index % 64) }
            values[index] = Int8(max(-127, min(127, (unit / scale).rounded())))
        }
        return (signs, values, scale)
    }

    /// The dot product of `query` and the stored values at `offset`, in 32-bit integers.
    @inline(__always)
    static func dot(
        _ query: UnsafeBufferPointer<Int8>,
        _ stored: UnsafeBufferPointer<Int8>,
        offset: Int,
        count: Int
    ) -> Int32 {
        var sum: Int32 = 0
        for index in 0..<count { sum &+= Int32(query[index]) &* Int32(stored[offset + index]) }
        return sum
    }
}
