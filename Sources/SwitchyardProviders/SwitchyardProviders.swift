// SPDX-License-Identifier: Apache-2.0

/// SwitchyardProviders holds one adapter per provider dialect and the HTTP transport they share.
///
/// It holds the gateway's only upstream HTTP client, a small pool on SwiftNIO and NIOSSL (see
/// docs/decisions/0003-upstream-http-client.md). Adapters translate requests and responses as pure
/// functions; the transport makes one attempt per call. Retries and fallback
/// live in SwitchyardCore's `Dispatcher`, never here.
public enum SwitchyardProvidersModule {}
