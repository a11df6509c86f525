// SPDX-License-Identifier: Apache-2.0

import Synchronization

/// Bounds a wait on something outside the process (a database, an identity provider).
public enum Deadline {
    /// The work did not finish in time.
    public struct Exceeded: Error {}

    /// Runs `body`, or throws ``Exceeded`` when it takes longer than `limit`.
    ///
    /// The caller is answered at the deadline even when `body` ignores cancellation (a query on a
    /// connection whose server went silent does): a task group would wait for it, so the race is
    /// settled by whichever side resumes the continuation first; the late side is dropped, and the
    /// work is cancelled.
    public static func within<Value: Sendable>(
        _ limit: Duration,
        _ body: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let settled = Once()
        return try await withCheckedThrowingContinuation { continuation in
            @Sendable func finish(_ result: Result<Value, any Error>) -> Bool {
                let first = settled.claim()
                if first { continuation.resume(with: result) }
                return first
            }
            let work = Task {
                do {
                    _ = finish(.success(try await body()))
                } catch {
                    _ = finish(.failure(error))
                }
            }
            Task {
                try? await Task.sleep(for: limit)
                if finish(.failure(Exceeded())) { work.cancel() }
            }
        }
    }

    /// Says yes once: which side of a race finishes it.
    final class Once: Sendable {
        private let done = Mutex(false)

        /// `true` the first time only.
        func claim() -> Bool {
            self.done.withLock { done in
                defer { done = true }
                return !done
            }
        }
    }
}
