// SPDX-License-Identifier: Apache-2.0

import Synchronization
import Testing

@testable import SwitchyardCore

/// Key digests are compared without an early exit: every byte is read whatever the first difference,
/// so how long a refusal takes says nothing about how much of a key matched.
struct ConstantTimeTests {
    /// Bytes that count how many elements a comparison reads.
    struct CountingBytes: RandomAccessCollection {
        let bytes: [UInt8]
        let reads: Counter

        final class Counter: Sendable {
            private let value = Mutex(0)
            func add() { self.value.withLock { $0 += 1 } }
            var count: Int { self.value.withLock { $0 } }
        }

        var startIndex: Int { 0 }
        var endIndex: Int { self.bytes.count }
        subscript(position: Int) -> UInt8 {
            self.reads.add()
            return self.bytes[position]
        }
    }

    @Test("Every byte is read whether the first, the last or no byte differs")
    func readsEveryByte() {
        let digest = (0..<32).map { UInt8($0) }
        var firstDiffers = digest
        firstDiffers[0] ^= 0xFF
        var lastDiffers = digest
        lastDiffers[31] ^= 0x01
        for (other, equal) in [(digest, true), (firstDiffers, false), (lastDiffers, false)] {
            let counter = CountingBytes.Counter()
            let result = Authenticator.constantTimeEquals(
                CountingBytes(bytes: digest, reads: counter),
                CountingBytes(bytes: other, reads: counter)
            )
            #expect(result == equal)
            #expect(counter.count == 64, "read \(counter.count) of 64 bytes")
        }
        #expect(!Authenticator.constantTimeEquals([UInt8](digest), [UInt8](digest.dropLast())))
    }
}
