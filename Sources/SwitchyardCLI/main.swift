// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import NIOCore
import NIOPosix

// Run Swift concurrency on NIO's event loops, before any task starts: request handlers, the upstream
// client and response writers then share threads instead of handing every request across thread pools.
let installedNIOExecutor = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

// Dispatch on the concrete command: through an existential, overload resolution picks
// ParsableCommand's synchronous `run()`, which only prints help.
do {
    var command = try SwitchyardCommand.parseAsRoot()
    switch command {
    case let serve as Serve: try await serve.run()
    case let models as Models: try await models.run()
    case let check as CheckConfig: try await check.run()
    case let create as Keys.Create: try await create.run()
    case let list as Keys.List: try await list.run()
    case let revoke as Keys.Revoke: try await revoke.run()
    case let rotate as Keys.Rotate: try await rotate.run()
    default: try command.run()
    }
} catch {
    SwitchyardCommand.exit(withError: error)
}
