// SPDX-License-Identifier: Apache-2.0

import SwitchyardCore

/// Feeds arbitrary bytes to the embeddings request validator, which runs on every client body.
///
/// A thrown `GatewayError` is the expected answer to bad input; only a trap or a sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    if let request = try? EmbeddingsRequest(body: bytes) {
        // Token-count inputs become empty strings; counting them reads every input.
        _ = request.characterCount
    }
    return 0
}
