// SPDX-License-Identifier: Apache-2.0

import SwitchyardCore

/// Feeds arbitrary bytes to the upstream event-stream decoder, whole and in two chunks, and to the
/// finish-reason reader traces use on each event.
///
/// The first byte picks where the rest is split, so the fuzzer explores chunk boundaries inside
/// line endings and field names; the second sets a small event size limit, so the refusal path runs too.
/// Upstream chunking is arbitrary, so both ways must agree: the same events, and a refusal of the
/// whole stream is also a refusal of the chunked one (which may refuse earlier, on a large first piece).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard bytes.count >= 2 else { return 0 }
    let stream = bytes.dropFirst(2)
    let split = stream.startIndex + Int(bytes[0]) % (stream.count + 1)
    let limit = 16 + Int(bytes[1]) * 16

    var whole = SSEDecoder(maxEventBytes: limit)
    let expected = try? whole.feed(stream)

    var chunked = SSEDecoder(maxEventBytes: limit)
    let events = (try? chunked.feed(stream[..<split])).flatMap { first in
        (try? chunked.feed(stream[split...])).map { first + $0 }
    }
    if let expected, let events {
        precondition(events == expected, "events depend on where the stream was split")
    } else if events != nil {
        preconditionFailure("the whole stream was refused but the same bytes in two chunks were not")
    }

    var reasons: [String] = []
    FinishReasons.scan(Array(stream), into: &reasons)
    precondition(reasons.count <= FinishReasons.limit && Set(reasons).count == reasons.count)
    precondition(
        reasons.allSatisfy {
            !$0.isEmpty && $0.utf8.count <= 64 && $0.utf8.allSatisfy { $0 == 0x5F || (0x61...0x7A).contains($0) }
        },
        "a finish reason outside [a-z_]{1,64}"
    )
    return 0
}
