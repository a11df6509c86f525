// SPDX-License-Identifier: Apache-2.0

import Foundation
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// Every kind of bad input gets OpenAI's error shape with the right status, is logged, and the next request works.
@Suite(.timeLimit(.minutes(1)))
struct BadInputTests {
    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var body: String
        var status: Int
        var param: String?
        var messageFragment: String
    }

    static let cases: [Case] = [
        Case(
            description: "malformed JSON",
            body: #"{"model": "m", "messages": ["#,
            status: 400,
            param: nil,
            messageFragment: "not valid JSON"
        ),
        Case(description: "empty body", body: "", status: 400, param: nil, messageFragment: "empty"),
        Case(
            description: "missing messages",
            body: #"{"model":"m"}"#,
            status: 400,
            param: "messages",
            messageFragment: "`messages` is required"
        ),
        Case(
            description: "wrong type",
            body: #"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}"#,
            status: 400,
            param: "temperature",
            messageFragment: "wrong type"
        ),
        Case(
            description: "wrong nested type",
            body: #"{"model":"m","messages":[{"role":"user","content":42}]}"#,
            status: 400,
            param: "messages[0].content",
            messageFragment: "messages[0].content"
        ),
        Case(
            description: "unknown role",
            body: #"{"model":"m","messages":[{"role":"robot","content":"hi"}]}"#,
            status: 400,
            param: "messages[0].role",
            messageFragment: "robot"
        ),
        Case(
            description: "unknown model",
            body: TestGateway.chatBody(model: "no-such-model"),
            status: 404,
            param: "model",
            messageFragment: "no-such-model"
        ),
        Case(
            description: "unknown response_format type",
            body: TestGateway.chatBody(model: "m", extra: #","response_format":{"type":"yaml"}"#),
            status: 400,
            param: "response_format.type",
            messageFragment: "yaml"
        ),
        Case(
            description: "unreachable upstream",
            body: TestGateway.chatBody(model: "unreachable"),
            status: 502,
            param: nil,
            messageFragment: "down/ok"
        ),
        Case(
            description: "upstream invalid JSON",
            body: TestGateway.chatBody(model: "garbage"),
            status: 502,
            param: nil,
            messageFragment: "not a JSON object"
        ),
    ]

    static func configuration(_ port: Int) -> GatewayConfiguration {
        TestGateway.configuration(
            upstreamPort: port,
            models: [
                "m": ModelConfiguration(routes: [.init(provider: "up", model: "ok")]),
                "unreachable": ModelConfiguration(routes: [.init(provider: "down", model: "ok")]),
                "garbage": ModelConfiguration(routes: [.init(provider: "up", model: "bad-json")]),
                "broken": ModelConfiguration(routes: [.init(provider: "up", model: "broken-stream")]),
            ]
        )
    }

    @Test("Answers bad input with an OpenAI error, logs it, and keeps serving", arguments: cases)
    func rejectsBadInput(_ testCase: Case) async throws {
        try await TestGateway.run(configure: Self.configuration) { gateway, port in
            let response = try await TestGateway.send(port: port, body: testCase.body)
            #expect(response.status == testCase.status)
            #expect(response.headers["content-type"] == "application/json")
            let error = try ErrorBody(response.body)
            #expect(error.param == testCase.param)
            #expect(error.message.contains(testCase.messageFragment), "message: \(error.message)")

            let next = try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "m"))
            #expect(next.status == 200)

            await gateway.requestLog.flush()
            let rows = try await gateway.store.records(matching: .init())
            #expect(rows.map(\.status).sorted() == [200, testCase.status].sorted())
            #expect(rows.contains { $0.status == testCase.status && $0.error != nil })
        }
    }

    @Test("A body over the limit gets 413, and is in the request log like any invalid request")
    func rejectsLargeBody() async throws {
        try await TestGateway.run(configure: { port in
            var configuration = Self.configuration(port)
            configuration.server.maxBodyBytes = 2048
            return configuration
        }) { gateway, port in
            let big = TestGateway.chatBody(
                model: "m",
                extra: #","user":""# + String(repeating: "x", count: 4096) + #"""#
            )
            let response = try await TestGateway.send(port: port, body: big)
            #expect(response.status == 413)
            #expect(try ErrorBody(response.body).message.contains("2048"))
            #expect(try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "m")).status == 200)

            await gateway.requestLog.flush()
            let rejected = try await gateway.store.records(matching: .init()).filter { $0.status == 413 }
            #expect(rejected.count == 1)
            #expect(rejected.first?.error?.contains("2048") == true)
            #expect(rejected.first?.id == response.headers["x-switchyard-request-id"])
            #expect(gateway.registry.emitToString().contains(#"status="413""#))
        }
    }

    @Test("An upstream that closes mid-stream ends the stream with an error event, never a hang")
    func reportsBrokenStream() async throws {
        try await TestGateway.run(configure: Self.configuration) { gateway, port in
            let response = try await TestGateway.send(
                port: port,
                body: TestGateway.chatBody(model: "broken", stream: true)
            )
            #expect(response.status == 200)
            let events = response.body.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(events.first?.contains(#""content":"Hel""#) == true)
            let last = try #require(events.last)
            #expect(last.hasPrefix("data: "))
            let error = try ErrorBody(String(last.dropFirst("data: ".count)))
            #expect(error.message.contains("closed the stream"))
            #expect(!response.body.contains("[DONE]"))

            await gateway.requestLog.flush()
            let row = try #require(try await gateway.store.records(matching: .init()).first)
            #expect(row.error?.contains("closed the stream") == true)
            #expect(try await TestGateway.send(port: port, body: TestGateway.chatBody(model: "m")).status == 200)
        }
    }

    @Test("An unknown path is a 404 in OpenAI's shape, not HTML")
    func unknownPath() async throws {
        try await TestGateway.run(configure: Self.configuration) { _, port in
            let response = try await TestGateway.send(port: port, path: "/v1/nothing-here", body: "{}")
            #expect(response.status == 404)
            #expect(try ErrorBody(response.body).type == "invalid_request_error")
        }
    }
}
