// SPDX-License-Identifier: Apache-2.0

import Prometheus
import SwitchyardCore

extension PrometheusMetricsFactory {
    /// A factory on `registry` whose histograms have the buckets ``GatewayMetrics`` asks for.
    public static func switchyard(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        for (name, seconds) in GatewayMetrics.durationBuckets {
            factory.durationHistogramBuckets[name] = seconds.map { .nanoseconds(Int64(($0 * 1e9).rounded())) }
        }
        for (name, buckets) in GatewayMetrics.valueBuckets {
            factory.valueHistogramBuckets[name] = buckets
        }
        return factory
    }
}
