// SPDX-License-Identifier: Apache-2.0

import ServiceLifecycle
import SwitchyardCore

/// Folds the attempts recorded by requests into the live route statistics once a second, off the
/// request path, until the gateway shuts down.
struct RouteStatisticsService: Service {
    let statistics: RouteStatistics
    var interval = Duration.seconds(1)

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            self.statistics.refresh()
            try? await Task.sleep(for: self.interval)
        }
    }
}
