// SPDX-License-Identifier: Apache-2.0

import SwitchyardCore

/// Feeds arbitrary bytes to the chat request validator, which runs on every client body.
///
/// A thrown `GatewayError` is the expected answer to bad input; only a trap or a sanitizer report is a bug.
/// Property: a body whose `provider` preferences were removed is still one JSON object without them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let request = try? ChatRequest(body: bytes) else { return 0 }
    // What goes upstream is still one JSON object, without the gateway-only `provider` member.
    if request.preferences != nil || bytes.count != request.body.count {
        guard let members = try? JSONObjectScanner.members(of: request.body).members else {
            preconditionFailure("the body sent upstream is not a JSON object")
        }
        precondition(members["provider"] == nil, "`provider` was forwarded upstream")
    }
    return 0
}
