// SPDX-License-Identifier: Apache-2.0

import Logging

/// swift-log's `StreamLogHandler`, except that a logger's metadata is rendered when a line is
/// written rather than each time it is set.
///
/// Hummingbird sets `hb.request.id` on a copy of the logger for every request. The stream handler
/// sorts and formats all of its metadata on every such change, which showed in request profiles
/// even with nothing logged; this handler keeps the metadata as a dictionary until a line is due.
public struct LazyMetadataLogHandler: LogHandler {
    private var output: StreamLogHandler
    /// The logger's own metadata, merged under each line's metadata when it is written.
    public var metadata: Logger.Metadata = [:]

    /// Wraps `output`, which must carry no metadata of its own.
    public init(_ output: StreamLogHandler) {
        self.output = output
    }

    /// The lowest level written.
    public var logLevel: Logger.Level {
        get { self.output.logLevel }
        set { self.output.logLevel = newValue }
    }

    /// Contributes metadata to every line, as with the stream handler.
    public var metadataProvider: Logger.MetadataProvider? {
        get { self.output.metadataProvider }
        set { self.output.metadataProvider = newValue }
    }

    /// One metadata item.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    /// Writes the line with the logger's metadata and the line's own (the line's wins).
    public func log(event: LogEvent) {
        var event = event
        if !self.metadata.isEmpty {
            event.metadata = self.metadata.merging(event.metadata ?? [:]) { _, line in line }
        }
        self.output.log(event: event)
    }
}
