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
/// allows (with a margin of three standard deviations) are skipped. The rest are scored on their
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

    /// The entries of one context, in columns; all of one length (the context key names the model).
    struct Bucket {
        var dimensions: Int
        var signs: [UInt64] = []
        var values: [Int8] = []
        var scales: [Float] = []
        var metas: [Meta] = []
    }

    /// Where an entry is, which insertion put it there, and the store's sequence number for it.
    struct Place {
        var context: String
        var position: Int
        var generation: UInt64
        var sequence: Int64
    }

    struct State {
        var buckets: [String: Bucket] = [:]
        var places: [String: Place] = [:]
        /// Insertions in order, for evicting the oldest; one whose key was removed or inserted again
        /// since (another generation) is skipped, and such slots are compacted away.
        var order: [(key: String, generation: UInt64)] = []
        var orderStart = 0
        var generation: UInt64 = 0
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
    /// another length than the context's others, empty or not finite ones are refused (`false`).
    ///
    /// `sequence` is the store's number for the entry (0 when not known yet): an entry held with the
    /// same or a later number is left as it is, so reading the store again adds nothing twice.
    @discardableResult
    public func insert(
        key: String,
        context: String,
        vector: [Float],
        signature: PromptSignature,
        expiresAt: Date,
        namespace: String,
        model: String,
        sequence: Int64 = 0
    ) -> Bool {
        if sequence > 0, let held = self.state.withLock({ $0.places[key]?.sequence }), held >= sequence {
            return true
        }
        guard let (signs, values, scale) = Self.quantise(vector) else { return false }
        let meta = Meta(
            key: key,
            signature: signature,
            expiresAt: expiresAt.timeIntervalSince1970,
            namespace: namespace,
            model: model
        )
        return self.state.withLock { state in
            if let bucket = state.buckets[context], bucket.dimensions != vector.count {
                // Another length among the context's other entries: refused (the context names the model).
                let replacesTheOnlyEntry = bucket.metas.count == 1 && state.places[key]?.context == context
                guard replacesTheOnlyEntry else { return false }
            }
            if state.places[key] != nil { Self.remove(key, from: &state) }
            while state.places.count >= self.capacity, state.orderStart < state.order.count {
                let oldest = state.order[state.orderStart]
                state.orderStart += 1
                if state.places[oldest.key]?.generation == oldest.generation { Self.remove(oldest.key, from: &state) }
            }
            Self.compactOrder(&state)
            var bucket = state.buckets.removeValue(forKey: context) ?? Bucket(dimensions: vector.count)
            bucket.signs += signs
            bucket.values += values
            bucket.scales.append(scale)
            bucket.metas.append(meta)
            state.generation += 1
            state.places[key] = Place(
                context: context,
                position: bucket.metas.count - 1,
                generation: state.generation,
                sequence: sequence
            )
            state.buckets[context] = bucket
            state.order.append((key, state.generation))
            return true
        }
    }

    /// Drops the insertions already evicted, and those whose key was removed or inserted again, once
    /// they outnumber the live entries: the order stays within twice the entries held.
    private static func compactOrder(_ state: inout State) {
        guard state.order.count - state.orderStart > 2 * state.places.count + 1024 else { return }
        state.order = state.order[state.orderStart...].filter { state.places[$0.key]?.generation == $0.generation }
        state.orderStart = 0
    }

    /// How many insertions the eviction order holds (live or not), for tests of its bound.
    var orderLength: Int { self.state.withLock { $0.order.count - $0.orderStart } }

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
            guard let bucket = state.buckets[context], bucket.dimensions == vector.count else { return nil }
            let words = signs.count
            let dimensions = vector.count
            let allowed = Self.allowedSignDifference(threshold: threshold, dimensions: dimensions)
            var best: (position: Int, similarity: Double)?
            bucket.signs.withUnsafeBufferPointer { storedSigns in
                bucket.values.withUnsafeBufferPointer { storedValues in
                    values.withUnsafeBufferPointer { query in
                        Self.scan(storedSigns, signs, words: words, count: bucket.metas.count, allowed: allowed) {
                            position in
                            let similarity =
                                Double(
                                    Self.dot(
                                        query.baseAddress!,
                                        storedValues.baseAddress! + position * dimensions,
                                        count: dimensions
                                    )
                                ) * Double(scale) * Double(bucket.scales[position])
                            guard similarity >= threshold, similarity > (best?.similarity ?? -2) else { return }
                            let meta = bucket.metas[position]
                            guard meta.expiresAt > time, meta.signature.agrees(with: signature) else { return }
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
        guard let place = state.places.removeValue(forKey: key),
            var bucket = state.buckets.removeValue(forKey: place.context)
        else { return }
        let (context, position) = (place.context, place.position)
        let last = bucket.metas.count - 1
        let words = (bucket.dimensions + 63) / 64
        let dimensions = bucket.dimensions
        if position != last {
            for word in 0..<words { bucket.signs[position * words + word] = bucket.signs[last * words + word] }
            for index in 0..<dimensions {
                bucket.values[position * dimensions + index] = bucket.values[last * dimensions + index]
            }
            bucket.scales[position] = bucket.scales[last]
            bucket.metas[position] = bucket.metas[last]
            state.places[bucket.metas[position].key]?.position = position
        }
        bucket.signs.removeLast(words)
        bucket.values.removeLast(dimensions)
        bucket.scales.removeLast()
        bucket.metas.removeLast()
        if !bucket.metas.isEmpty { state.buckets[context] = bucket }
    }

    /// How many sign bits may differ for a cosine of `threshold`: the expected count for its angle
    /// (dimensions × angle / π) plus three standard deviations. An entry exactly at the threshold is
    /// skipped with a chance of about 0.1 %, one 0.05 above it practically never; a skipped entry is
    /// a miss, never a wrong answer. Three rather than four deviations keep 25 times fewer entries to
    /// score when the stored prompts resemble each other (docs/benchmarks.md).
    static func allowedSignDifference(threshold: Double, dimensions: Int) -> Int {
        let angle = acos(max(-1, min(1, threshold)))
        let share = angle / .pi
        let expected = Double(dimensions) * share
        return Int(expected + 3 * (Double(dimensions) * share * (1 - share)).squareRoot()) + 1
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

    /// Calls `candidate` with the position of every entry whose sign bits differ from `query`'s in at
    /// most `allowed` places. Six words (384 dimensions, the common sentence-embedding size) are read
    /// unrolled: this loop runs once per entry of the context, the rest only for candidates.
    @inline(__always)
    static func scan(
        _ stored: UnsafeBufferPointer<UInt64>,
        _ query: [UInt64],
        words: Int,
        count: Int,
        allowed: Int,
        candidate: (Int) -> Void
    ) {
        if words == 6 {
            let (q0, q1, q2, q3, q4, q5) = (query[0], query[1], query[2], query[3], query[4], query[5])
            var base = 0
            for position in 0..<count {
                let differing =
                    (stored[base] ^ q0).nonzeroBitCount &+ (stored[base &+ 1] ^ q1).nonzeroBitCount
                    &+ (stored[base &+ 2] ^ q2).nonzeroBitCount &+ (stored[base &+ 3] ^ q3).nonzeroBitCount
                    &+ (stored[base &+ 4] ^ q4).nonzeroBitCount &+ (stored[base &+ 5] ^ q5).nonzeroBitCount
                if differing <= allowed { candidate(position) }
                base &+= 6
            }
            return
        }
        for position in 0..<count {
            var differing = 0
            let base = position &* words
            for word in 0..<words { differing &+= (stored[base &+ word] ^ query[word]).nonzeroBitCount }
            if differing <= allowed { candidate(position) }
        }
    }

    /// The dot product of `count` 8-bit values at `a` and `b`, in 32-bit integers, 16 lanes at a time
    /// (an 8-bit product fits 16 bits; the sums are widened before they could overflow).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, count: Int) -> Int32 {
        var lanes = SIMD8<Int32>()
        var index = 0
        while index &+ 16 <= count {
            let x = SIMD16<Int16>(truncatingIfNeeded: UnsafeRawPointer(a + index).loadUnaligned(as: SIMD16<Int8>.self))
            let y = SIMD16<Int16>(truncatingIfNeeded: UnsafeRawPointer(b + index).loadUnaligned(as: SIMD16<Int8>.self))
            let products = x &* y
            lanes &+= SIMD8<Int32>(truncatingIfNeeded: products.lowHalf)
            lanes &+= SIMD8<Int32>(truncatingIfNeeded: products.highHalf)
            index &+= 16
        }
        var sum = lanes.wrappedSum()
        while index < count {
            sum &+= Int32(a[index]) &* Int32(b[index])
            index &+= 1
        }
        return sum
    }
}
