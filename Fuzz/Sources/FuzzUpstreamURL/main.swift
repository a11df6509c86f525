// SPDX-License-Identifier: Apache-2.0

import SwitchyardProviders

/// Feeds arbitrary text to the upstream URL and proxy parsers, which read `base_url`, `proxy` and the
/// `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` environment variables.
///
/// The first line is the base URL, the second the proxy URL (configured and from the environment),
/// the rest `NO_PROXY`. `nil` is the expected answer to a bad URL; only a trap or a sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    let lines = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
    let baseURL = lines[0]
    let proxyURL = lines.count > 1 ? lines[1] : ""
    let noProxy = lines.count > 2 ? lines[2] : ""
    _ = ProxySetting(configured: proxyURL).map { "\($0)" }
    let environment = ["HTTPS_PROXY": proxyURL, "http_proxy": proxyURL, "NO_PROXY": noProxy]
    _ = ProxySetting.environment.proxy(for: baseURL, environment: environment)?.description
    return 0
}
