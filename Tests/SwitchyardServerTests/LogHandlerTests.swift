// SPDX-License-Identifier: Apache-2.0

import Logging
import NIOConcurrencyHelpers
import SwitchyardServer
import Testing

/// The log handler `switchyard serve` installs.
struct LogHandlerTests {
    /// Collects what the stream handler writes.
    struct Lines: TextOutputStream, Sendable {
        let text = NIOLockedValueBox("")
        func write(_ string: String) { self.text.withLockedValue { $0 += string } }
    }

    @Test("Writes logger metadata, sorted, under each line's own metadata; honours the level")
    func writesMetadataLazily() {
        let lines = Lines()
        var logger = Logger(label: "test") { label in
            var handler = LazyMetadataLogHandler(StreamLogHandler(label: label, stream: lines, metadataProvider: nil))
            handler.logLevel = .info
            return handler
        }
        logger[metadataKey: "hb.request.id"] = "42"
        logger[metadataKey: "gw.model"] = "m"
        logger.info("request", metadata: ["gw.model": "override", "gw.status": "200"])
        logger.debug("hidden")
        let text = lines.text.withLockedValue { $0 }
        #expect(
            text.contains(
                "info test: gw.model=override gw.status=200 hb.request.id=42 [SwitchyardServerTests] request\n"
            )
        )
        #expect(!text.contains("hidden"))
        #expect(logger[metadataKey: "gw.model"] == "m")
    }
}
