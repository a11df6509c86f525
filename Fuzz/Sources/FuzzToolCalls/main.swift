// SPDX-License-Identifier: Apache-2.0

@testable import SwitchyardCore

/// Feeds arbitrary request and answer bytes to the tool-call reliability check, which reads
/// upstream answers (complete bodies and event streams) and the client's tool schemas.
///
/// The input is the request body, a zero byte, then the answer. Properties: never more valid
/// calls than calls, and the same answer read as a stream or a body never traps.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let split = bytes.firstIndex(of: 0) ?? bytes.count
    let request = Array(bytes[..<split])
    let response = split < bytes.count ? Array(bytes[(split + 1)...]) : []
    for streamed in [false, true] {
        let counted = ToolCallCheck.count(ToolCallEvidence(request: request, response: response, streamed: streamed))
        precondition(counted.valid <= counted.total, "more valid tool calls than calls")
    }
    return 0
}
