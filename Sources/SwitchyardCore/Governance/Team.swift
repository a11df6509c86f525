// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A team: groups keys (by their `team`) and carries its own budget and limits, which every key
/// of the team draws from together.
public struct Team: Sendable, Codable, Equatable {
    /// The name keys refer to.
    public var name: String
    /// The team's budget and limits.
    public var policy: SpendPolicy
    /// Free-form labels.
    public var metadata: [String: String]
    /// When it was created.
    public var createdAt: Date

    /// Creates a team.
    public init(
        name: String,
        policy: SpendPolicy = SpendPolicy(),
        metadata: [String: String] = [:],
        createdAt: Date = Date()
    ) {
        self.name = name
        self.policy = policy
        self.metadata = metadata
        self.createdAt = createdAt
    }
}

/// Where teams are kept; every instance on the same store sees the same teams.
public protocol TeamStore: Sendable {
    /// Every team.
    func teams() async throws -> [Team]
    /// Inserts `team`, or replaces the team with its name.
    func saveTeam(_ team: Team) async throws
    /// Removes the team named `name`; its keys keep working without a team policy.
    func deleteTeam(_ name: String) async throws
}
