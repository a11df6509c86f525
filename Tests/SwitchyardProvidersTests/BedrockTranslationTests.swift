// SPDX-License-Identifier: Apache-2.0

import Foundation
import NIOCore
import SwitchyardCore
import SwitchyardProviders
import Testing

/// AWS's published Signature Version 4 test suite (credentials, date, region and service of every case).
struct SigV4SuiteTests {
    let signer = SigV4Signer(
        credentials: AWSCredentials(
            accessKeyID: "AKIDEXAMPLE",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        ),
        region: "us-east-1",
        service: "service"
    )
    /// 2015-08-30T12:36:00Z.
    let date = Date(timeIntervalSince1970: 1_440_938_160)

    func authorization(_ signed: [(String, String)]) -> String? { signed.first { $0.0 == "authorization" }?.1 }

    @Test("post-vanilla")
    func postVanilla() {
        let signed = self.signer.sign(
            method: "POST",
            host: "example.amazonaws.com",
            target: "/",
            headers: [],
            body: [],
            date: self.date
        )
        #expect(signed.first { $0.0 == "x-amz-date" }?.1 == "20150830T123600Z")
        #expect(
            self.authorization(signed)
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=host;x-amz-date, "
                + "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        )
    }

    @Test("post-x-www-form-urlencoded: a signed content type and a body")
    func postWithBody() {
        let signed = self.signer.sign(
            method: "POST",
            host: "example.amazonaws.com",
            target: "/",
            headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: Array("Param1=value1".utf8),
            date: self.date
        )
        #expect(
            self.authorization(signed)
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=content-type;host;x-amz-date, "
                + "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        )
    }

    @Test("post-vanilla-query")
    func postQuery() {
        let signed = self.signer.sign(
            method: "POST",
            host: "example.amazonaws.com",
            target: "/?Param1=value1",
            headers: [],
            body: [],
            date: self.date
        )
        #expect(
            self.authorization(signed)?.hasSuffix("28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11")
                == true
        )
    }

    @Test("post-sts-header-before: a session token is sent and signed")
    func sessionToken() {
        var signer = self.signer
        let token =
            "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8Y"
            + "UuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8"
            + "YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2IC"
            + "CR/oLxBA=="
        signer.credentials.sessionToken = token
        let signed = signer.sign(
            method: "POST",
            host: "example.amazonaws.com",
            target: "/",
            headers: [],
            body: [],
            date: self.date
        )
        #expect(signed.first { $0.0 == "x-amz-security-token" }?.1 == token)
        #expect(
            self.authorization(signed)
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=host;x-amz-date;x-amz-security-token, "
                + "Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
        )
    }
}

struct BedrockTranslationTests {
    let translator = BedrockTranslator(
        access: UpstreamAccess(
            baseURL: "https://bedrock-runtime.us-east-1.amazonaws.com",
            apiKey: nil,
            credentials: { _ in [] }
        ),
        signer: SigV4Signer(
            credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret"),
            region: "us-east-1",
            service: "bedrock"
        ),
        now: { Date(timeIntervalSince1970: 1_440_938_160) }
    )
    let route = Route(
        provider: SimulatorProvider(name: "bedrock", settings: .init()),
        upstreamModel: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    )

    @Test("An OpenAI request becomes a signed Converse request; cache_control becomes a cache point")
    func translatesRequest() throws {
        let request = try OpenAIChat.Request(body: try fixture("bedrock/request.openai.json"))
        let upstream = try self.translator.makeChatRequest(request, route: self.route)
        // The model id is percent-encoded once in the path (and again in the signature's canonical path).
        #expect(
            upstream.url
                == "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
        )
        let authorization = try #require(upstream.headers.first { $0.0 == "authorization" }?.1)
        #expect(
            authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, ")
        )
        #expect(authorization.contains("SignedHeaders=content-type;host;x-amz-date, "))
        #expect(upstream.headers.contains { $0 == ("x-amz-date", "20150830T123600Z") })
        #expect(JSONNode(parsing: upstream.body) == JSONNode(parsing: try fixture("bedrock/request.converse.json")))
    }

    @Test("A stream request goes to converse-stream; reasoning_effort becomes a thinking budget for Claude")
    func streamAndThinking() throws {
        var request = OpenAIChat.Request(model: "m", messages: [.init(role: "user", content: .text("hi"))])
        request.stream = true
        request.reasoning_effort = "medium"
        let upstream = try self.translator.makeChatRequest(request, route: self.route)
        #expect(upstream.url.hasSuffix("/converse-stream"))
        let body = try #require(JSONNode(parsing: upstream.body))
        #expect(body["additionalModelRequestFields"]?["thinking"]?["budget_tokens"] == .number(4096))
        #expect(throws: ProviderError.self) {
            try BedrockTranslator.translate(request, upstreamModel: "amazon.nova-pro-v1:0")
        }
    }

    @Test(
        "What Converse cannot express is a 400 naming it",
        arguments: [
            (#""n": 3"#, "n"), (#""seed": 1"#, "seed"),
            (#""response_format": {"type": "json_object"}"#, "response_format"),
            (#""tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "none""#, "tool_choice"),
            (
                #""messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]"#,
                "messages[0].content[0].type"
            ),
        ]
    )
    func refuses(member: String, parameter: String) throws {
        let messages = member.hasPrefix(#""messages""#) ? "" : #""messages": [{"role": "user", "content": "hi"}], "#
        let body = #"{"model": "m", "# + messages + member + "}"
        let error = try #require(throws: ProviderError.self) {
            try BedrockTranslator.translate(try OpenAIChat.Request(body: Array(body.utf8)), upstreamModel: "m")
        }
        #expect(error.kind == .unsupported && error.message.contains("`\(parameter)`"))
    }

    @Test("A Converse answer becomes a completion with reasoning, a tool call and cache usage")
    func readsResponse() throws {
        let response = try self.translator.readChatResponse(try fixture("bedrock/response.json"), upstreamModel: "m")
        let choice = try #require(response.choices.first)
        #expect(choice.finish_reason == "tool_calls")
        #expect(choice.message.content == .text("I'll look it up."))
        #expect(choice.message.reasoning_content == "The user asks about a photo.")
        #expect(choice.message.tool_calls?.first?.id == "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q")
        let usage = try #require(response.usage)
        #expect(usage.prompt_tokens == 40 && usage.prompt_tokens_details?.cached_tokens == 8)
        #expect(usage.prompt_tokens_details?.cache_creation_tokens == 2 && usage.completion_tokens == 20)
    }

    @Test("The binary event stream becomes chunks, whatever the chunking", arguments: [1, 5, 64, 100_000])
    func readsStream(pieceSize: Int) throws {
        var reader = self.translator.makeStreamReader(upstreamModel: "m")
        let chunks = try readAll(try fixture("bedrock/converse-stream-text.bin"), with: &reader, pieceSize: pieceSize)
        #expect(chunks.first?.choices.first?.delta.role == "assistant")
        #expect(chunks.compactMap { $0.choices.first?.delta.content }.joined() == "Hello there!")
        #expect(chunks.compactMap { $0.choices.first?.delta.reasoning_content }.joined() == "Greet back.")
        #expect(chunks.compactMap { $0.choices.first?.finish_reason } == ["stop"])
        let usage = try #require(chunks.last?.usage)
        #expect(usage.prompt_tokens == 26 && usage.completion_tokens == 5)

        var tools = self.translator.makeStreamReader(upstreamModel: "m")
        let calls = try readAll(try fixture("bedrock/converse-stream-tool.bin"), with: &tools, pieceSize: pieceSize)
            .compactMap { $0.choices.first?.delta.tool_calls?.first }
        #expect(calls.first?.id == "tooluse_abc" && calls.first?.function.name == "get_weather")
        #expect(calls.compactMap(\.function.arguments).joined() == #"{"city": "Paris"}"#)
    }

    @Test("An exception in the stream, a cut-short stream, and a corrupted CRC each fail clearly")
    func streamFailures() throws {
        var throttled = self.translator.makeStreamReader(upstreamModel: "m")
        let error = try #require(throws: ProviderError.self) {
            try readAll(try fixture("bedrock/converse-stream-throttled.bin"), with: &throttled, pieceSize: 32)
        }
        #expect(error.kind == .rateLimited && error.message.contains("throttlingException"))

        let text = try fixture("bedrock/converse-stream-text.bin")
        var cut = self.translator.makeStreamReader(upstreamModel: "m")
        let truncated = try #require(throws: ProviderError.self) {
            try readAll(Array(text.prefix(text.count - 10)), with: &cut, pieceSize: 64)
        }
        #expect(truncated.kind == .connection)

        var corrupted = text
        corrupted[30] ^= 0xFF
        var broken = self.translator.makeStreamReader(upstreamModel: "m")
        let crc = try #require(throws: ProviderError.self) { try readAll(corrupted, with: &broken, pieceSize: 64) }
        #expect(crc.kind == .invalidResponse && crc.message.contains("CRC"))
    }

    @Test("The event stream decoder refuses messages beyond its limit before buffering them")
    func eventStreamLimits() throws {
        var decoder = AWSEventStreamDecoder(maxMessageBytes: 64)
        let text = try fixture("bedrock/converse-stream-text.bin")
        // The second message is larger than 64 bytes; its prelude alone is enough to refuse it.
        let first = Int(text[3]) | Int(text[2]) << 8
        #expect(throws: AWSEventStreamDecoder.Malformed.self) { try decoder.feed(text.prefix(first + 12)) }
    }

    @Test("Usage counts beyond what one call can reach make the answer malformed")
    func usageOutOfRange() throws {
        let body =
            #"{"output": {"message": {"role": "assistant", "content": [{"text": "x"}]}}, "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 1000000001}}"#
        let error = try #require(throws: ProviderError.self) {
            try self.translator.readChatResponse(Array(body.utf8), upstreamModel: "m")
        }
        #expect(error.kind == .invalidResponse)
    }

    @Test("A region that is not an AWS region, or half a key pair, is a config error naming the key")
    func configuration() throws {
        let region = try #require(throws: ConfigurationError.self) {
            try GatewayConfiguration.load(
                yaml: "providers:\n  b: {type: bedrock, region: 'us-east-1/../x'}",
                environment: [:]
            )
        }
        #expect(region.message.contains("`providers.b.region`"))
        let long = String(repeating: "a", count: 33)
        #expect(throws: ConfigurationError.self) {
            try GatewayConfiguration.load(yaml: "providers:\n  b: {type: bedrock, region: \(long)}", environment: [:])
        }
        let half = try #require(throws: ConfigurationError.self) {
            try GatewayConfiguration.load(
                yaml: "providers:\n  b: {type: bedrock, access_key_id: AKID}",
                environment: [:]
            )
        }
        #expect(half.message.contains("both `access_key_id` and `secret_access_key`"))
    }

    @Test("Bedrock's error type and message are kept; throttling is a 429 worth retrying")
    func errors() throws {
        let error = self.translator.parseError(
            status: 429,
            headers: [("x-amzn-ErrorType", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/")],
            body: Array(#"{"message": "Too many requests, please wait before trying again."}"#.utf8)
        )
        #expect(error.kind == .rateLimited)
        #expect(error.message == "ThrottlingException: Too many requests, please wait before trying again.")
    }

    @Test("Embeddings: Cohere takes every input at once, Titan one; answers become OpenAI's list")
    func embeddings() throws {
        let two = try EmbeddingsRequest(body: Array(#"{"model": "e", "input": ["a", "bb"]}"#.utf8))
        let cohere = try #require(
            try self.translator.makeEmbeddingsRequest(two, upstreamModel: "cohere.embed-english-v3")
        )
        #expect(cohere.url.hasSuffix("/model/cohere.embed-english-v3/invoke"))
        #expect(JSONNode(parsing: cohere.body)?["texts"] == .array([.string("a"), .string("bb")]))
        #expect(throws: ProviderError.self) {
            try self.translator.makeEmbeddingsRequest(two, upstreamModel: "amazon.titan-embed-text-v2:0")
        }
        let answer = try self.translator.readEmbeddingsResponse(
            Array(#"{"embeddings": [[0.1], [0.2]]}"#.utf8),
            request: two,
            upstreamModel: "cohere.embed-english-v3"
        )
        #expect(JSONNode(parsing: answer)?["object"] == .string("list"))
    }
}
