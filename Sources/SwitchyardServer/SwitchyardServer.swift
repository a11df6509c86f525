// SPDX-License-Identifier: Apache-2.0

/// SwitchyardServer wires the gateway to Hummingbird: routes, HTTP middleware, the background
/// services (request log writer) and the application the CLI and the tests both build.
///
/// It holds no business logic: requests become `Call`s for SwitchyardCore's `Pipeline`, and
/// `Reply`s become HTTP responses.
public enum SwitchyardServerModule {}
