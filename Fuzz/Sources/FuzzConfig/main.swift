// SPDX-License-Identifier: Apache-2.0

import SwitchyardCore
import SwitchyardProviders

/// Feeds arbitrary text to the configuration loader: YAML parsing, `${VAR}` interpolation,
/// decoding and validation (`load` validates before returning).
///
/// A thrown `ConfigurationError` is the expected answer to a bad file; only a trap or a sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    _ = try? GatewayConfiguration.load(yaml: text, environment: [:])
    return 0
}
