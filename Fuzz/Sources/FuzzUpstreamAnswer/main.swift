// SPDX-License-Identifier: Apache-2.0

import SwitchyardCore
import SwitchyardProviders

/// Reads arbitrary bytes as an upstream's answer: the error path and the usage-pricing path.
///
/// For `parseError`, the first line is the `Retry-After` value, the second the `retry-after-ms` value
/// and the rest the body. `UsageAnnotator` sees the whole input as a response body.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let lines = bytes.split(separator: UInt8(ascii: "\n"), maxSplits: 2, omittingEmptySubsequences: false)
    let retryAfter = lines.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
    let retryAfterMs = lines.count > 1 ? String(decoding: lines[1], as: UTF8.self) : ""
    let body = lines.count > 2 ? Array(lines[2]) : []
    let headers = [("Retry-After", retryAfter), ("retry-after-ms", retryAfterMs)]
    let status = [400, 408, 429, 500, 503][count % 5]
    _ = OpenAICompatibleAdapter(baseURL: "http://127.0.0.1:1/v1", apiKey: nil)
        .parseError(status: status, headers: headers, body: body)

    // Everyday prices, none, and prices large enough to reach the cost formatter's fallback branch.
    let prices = [Pricing(input: 0.15, cachedInput: 0.075, output: 0.60), nil, Pricing(input: 1e300, output: 1e300)]
    for pricing in prices {
        _ = try? UsageAnnotator.annotate(body: bytes, pricing: pricing)
    }
    return 0
}
