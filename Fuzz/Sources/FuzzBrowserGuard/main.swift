// SPDX-License-Identifier: Apache-2.0

import SwitchyardCore

@testable import SwitchyardServer

/// Feeds arbitrary `Host` and `Origin` values to the guard that keeps web pages off a key-less gateway.
///
/// Input lines: the `Host` (`-` for none), the `Origin` (`-` for none), the listen host, then the
/// allowed origins. Checked: no trap; the host name is a part of the `Host` it came from; without a
/// master key no `Host` outside loopback and the listen address gets through; with one, a request
/// without an `Origin` is never refused.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    func line(_ index: Int) -> String? {
        guard index < lines.count, lines[index] != "-" else { return nil }
        return lines[index]
    }
    let host = line(0)
    let origin = line(1)
    var configuration = GatewayConfiguration()
    configuration.host = line(2) ?? "127.0.0.1"
    configuration.server.corsOrigins = Array(lines.dropFirst(3))

    let open = BrowserGuard(configuration: configuration)
    if let host {
        let name = BrowserGuard.hostName(host)
        // (`"".contains("")` is false, so the empty name is checked apart.)
        precondition(name.isEmpty || host.contains(name), "the host name is not part of the Host")
        if open.refusal(host: host, origin: nil) == nil {
            precondition(open.isLocal(host), "a non-local Host got through without a master key")
        }
    }
    _ = open.refusal(host: host, origin: origin)

    configuration.masterKey = "fuzz-master-key-0123456789"
    let keyed = BrowserGuard(configuration: configuration)
    precondition(keyed.refusal(host: host, origin: nil) == nil, "a keyed gateway refused a request by its Host")
    _ = keyed.refusal(host: host, origin: origin)
    return 0
}
