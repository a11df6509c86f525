// SPDX-License-Identifier: Apache-2.0

/// SwitchyardCore is the gateway's domain: OpenAI wire types, the model catalog, configuration,
/// the request pipeline and its stages, routing with fallback and retries, cost accounting and
/// the protocols that providers and stores implement.
///
/// It must never import an HTTP server or client framework (Hummingbird, AsyncHTTPClient) or a
/// database driver: those live in SwitchyardServer, SwitchyardProviders and SwitchyardStorage,
/// so the pipeline can be tested without I/O.
public enum SwitchyardCoreModule {}
