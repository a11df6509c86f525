"""Fake upstream providers on loopback, each speaking its provider's real wire format.

Each fake records the requests it received (path, headers, JSON body) and answers from the request:
text by default, a tool call when the request offers tools and the last turn is the user's, and a
stream when the request asks for one. ``fail_next`` queues error answers in the provider's own shape.
``FaultyOpenAI`` scripts faults per request (rate limits, errors, delays, stalled or broken streams).
Written from the providers' public API references.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Failure:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class FakeProvider:
    """A threaded HTTP server; subclasses implement ``answer``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                body = json.loads(raw) if raw else {}
                fake.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if fake.failures:
                    failure = fake.failures.pop(0)
                    self._send(failure.status, "application/json", failure.body, failure.headers)
                    return
                fake.answer(self, body)

            def _send(self, status: int, content_type: str, payload: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def send_json(self, payload: Any) -> None:
                self._send(200, "application/json", json.dumps(payload).encode())

            def send_events(self, events: list[bytes]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for event in events:
                    self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.failures.append(Failure(status, json.dumps(body).encode(), headers or {}))

    def answer(self, handler: Any, body: dict[str, Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _last_text(body: dict[str, Any], key: str = "content") -> str:
    """The text of the last message, whatever its content shape."""
    content = body["messages"][-1][key]
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


class FakeAnthropic(FakeProvider):
    """``POST /v1/messages`` as Anthropic documents it: ``x-api-key``, ``anthropic-version``, blocks, events."""

    API_KEY = "sk-ant-fake"
    SIGNATURE = "sig-fake-123"

    def answer(self, handler: Any, body: dict[str, Any]) -> None:
        recorded = self.requests[-1]
        if recorded.headers.get("x-api-key") != self.API_KEY:
            handler._send(401, "application/json", json.dumps(
                {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}).encode())
            return
        if recorded.path == "/v1/messages/count_tokens":
            # A fixed count per message, so a test can tell the upstream's count from the gateway's estimate.
            handler.send_json({"input_tokens": 1000 + 10 * len(body["messages"])})
            return
        if recorded.headers.get("anthropic-version") != "2023-06-01" or "max_tokens" not in body:
            handler._send(400, "application/json", json.dumps(
                {"type": "error", "error": {"type": "invalid_request_error",
                                            "message": "anthropic-version and max_tokens are required"}}).encode())
            return
        thinking = (body.get("thinking") or {}).get("type") == "enabled"
        if thinking:
            # As Anthropic does: with thinking on, a tool-use turn must keep its (signed) thinking block.
            for message in body["messages"]:
                blocks = message["content"] if isinstance(message["content"], list) else []
                if message["role"] == "assistant" and any(b.get("type") == "tool_use" for b in blocks) and (
                        not blocks or blocks[0].get("type") != "thinking"
                        or blocks[0].get("signature") != self.SIGNATURE):
                    handler._send(400, "application/json", json.dumps({"type": "error", "error": {
                        "type": "invalid_request_error",
                        "message": "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, "
                                   "but found `tool_use`."}}).encode())
                    return
        wants_tool = bool(body.get("tools")) and body["messages"][-1]["role"] == "user" and not any(
            isinstance(block, dict) and block.get("type") == "tool_result"
            for block in (body["messages"][-1]["content"] if isinstance(body["messages"][-1]["content"], list) else [])
        )
        text = f"Echo: {_last_text(body)}"
        usage = {"input_tokens": 12, "output_tokens": 7, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 2}
        if not body.get("stream"):
            content: list[dict[str, Any]] = [{"type": "text", "text": text}]
            if thinking:
                content.insert(0, {"type": "thinking", "thinking": "Let me think.", "signature": self.SIGNATURE})
            if wants_tool:
                tool = body["tools"][0]["name"]
                content.append({"type": "tool_use", "id": "toolu_fake1", "name": tool, "input": {"city": "Paris"}})
            handler.send_json({
                "id": "msg_fake1", "type": "message", "role": "assistant", "model": body["model"],
                "content": content, "stop_reason": "tool_use" if wants_tool else "end_turn",
                "stop_sequence": None, "usage": usage,
            })
            return

        def event(name: str, data: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

        events = [
            event("message_start", {"type": "message_start", "message": {
                "id": "msg_fake2", "type": "message", "role": "assistant", "model": body["model"], "content": [],
                "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 3,
                          "cache_creation_input_tokens": 2}}}),
        ]
        first = 0
        if thinking:
            first = 1
            events += [
                event("content_block_start", {"type": "content_block_start", "index": 0,
                                              "content_block": {"type": "thinking", "thinking": ""}}),
                event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "thinking_delta", "thinking": "Let me think."}}),
                event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "signature_delta", "signature": self.SIGNATURE}}),
                event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ]
        events += [
            event("content_block_start", {"type": "content_block_start", "index": first,
                                          "content_block": {"type": "text", "text": ""}}),
            event("ping", {"type": "ping"}),
        ]
        for word in text.split(" "):
            events.append(event("content_block_delta", {"type": "content_block_delta", "index": first,
                                                        "delta": {"type": "text_delta", "text": word + " "}}))
        events.append(event("content_block_stop", {"type": "content_block_stop", "index": first}))
        if wants_tool:
            events.append(event("content_block_start", {"type": "content_block_start", "index": first + 1, "content_block": {
                "type": "tool_use", "id": "toolu_fake2", "name": body["tools"][0]["name"], "input": {}}}))
            for piece in ['{"city":', ' "Paris"}']:
                events.append(event("content_block_delta", {"type": "content_block_delta", "index": first + 1,
                                                            "delta": {"type": "input_json_delta", "partial_json": piece}}))
            events.append(event("content_block_stop", {"type": "content_block_stop", "index": first + 1}))
        events.append(event("message_delta", {"type": "message_delta", "delta": {
            "stop_reason": "tool_use" if wants_tool else "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 7}}))
        events.append(event("message_stop", {"type": "message_stop"}))
        handler.send_events(events)


class FakeOpenAI(FakeProvider):
    """``POST /v1/chat/completions`` as OpenAI documents it, streaming included (with the usage chunk)."""

    def answer(self, handler: Any, body: dict[str, Any]) -> None:
        last = body["messages"][-1]
        wants_tool = bool(body.get("tools")) and last["role"] == "user"
        content = last.get("content")
        if isinstance(content, list):
            text = " ".join(part.get("text", "") for part in content if part.get("type") == "text")
            images = sum(1 for part in content if part.get("type") == "image_url")
            if images:
                text += f" [{images} image(s)]"
        else:
            text = content or ""
        reply = f"Echo: {text}"
        usage = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25,
                 "prompt_tokens_details": {"cached_tokens": 4}}
        call = {"id": "call_fake1", "type": "function",
                "function": {"name": body["tools"][0]["function"]["name"], "arguments": '{"city": "Paris"}'}} \
            if wants_tool else None
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": None if call else reply}
            if call:
                message["tool_calls"] = [call]
            handler.send_json({
                "id": "chatcmpl-fake1", "object": "chat.completion", "created": 1700000000, "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if call else "stop"}],
                "usage": usage,
            })
            return

        def chunk(delta: dict[str, Any], finish: str | None = None, with_usage: bool = False) -> bytes:
            payload: dict[str, Any] = {"id": "chatcmpl-fake2", "object": "chat.completion.chunk",
                                       "created": 1700000000, "model": body["model"],
                                       "choices": [] if with_usage else [
                                           {"index": 0, "delta": delta, "finish_reason": finish}]}
            if with_usage:
                payload["usage"] = usage
            return f"data: {json.dumps(payload)}\n\n".encode()

        events = [chunk({"role": "assistant", "content": ""})]
        if call:
            events.append(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                                 "function": {"name": call["function"]["name"], "arguments": ""}}]}))
            for piece in ['{"city":', ' "Paris"}']:
                events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
            events.append(chunk({}, "tool_calls"))
        else:
            for word in reply.split(" "):
                events.append(chunk({"content": word + " "}))
            events.append(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(chunk({}, with_usage=True))
        events.append(b"data: [DONE]\n\n")
        handler.send_events(events)


class FakeGemini(FakeProvider):
    """``models/{model}:generateContent``, ``:streamGenerateContent?alt=sse`` and ``:batchEmbedContents``."""

    API_KEY = "AIza-fake"
    SIGNATURE = "c2lnL25hdHVyZSs="  # base64 with '/', '+' and '=', as real ones have

    def answer(self, handler: Any, body: dict[str, Any]) -> None:
        recorded = self.requests[-1]
        if recorded.headers.get("x-goog-api-key") != self.API_KEY:
            handler._send(400, "application/json", json.dumps({"error": {
                "code": 400, "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT"}}).encode())
            return
        path = recorded.path
        if path.endswith(":batchEmbedContents"):
            handler.send_json({"embeddings": [
                {"values": [float(len(item["content"]["parts"][0]["text"])), 0.5, -0.5]} for item in body["requests"]]})
            return
        # As Gemini 3 does: a function call sent back must carry its thought signature.
        for content in body["contents"]:
            for part in content["parts"]:
                if "functionCall" in part and part.get("thoughtSignature") != self.SIGNATURE:
                    handler._send(400, "application/json", json.dumps({"error": {
                        "code": 400, "status": "INVALID_ARGUMENT",
                        "message": "Function call is missing a thought_signature in functionCall parts."}}).encode())
                    return
        last = body["contents"][-1]
        wants_tool = bool(body.get("tools")) and not any("functionResponse" in part for part in last["parts"])
        text = "Echo: " + " ".join(part.get("text", "") for part in last["parts"] if "text" in part)
        usage = {"promptTokenCount": 11, "candidatesTokenCount": 6, "cachedContentTokenCount": 2,
                 "thoughtsTokenCount": 3, "totalTokenCount": 20}
        parts: list[dict[str, Any]] = [{"text": text}]
        if wants_tool:
            name = body["tools"][0]["functionDeclarations"][0]["name"]
            parts = [{"functionCall": {"name": name, "args": {"city": "Paris"}}, "thoughtSignature": self.SIGNATURE}]
        if ":streamGenerateContent" not in path:
            handler.send_json({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP",
                                               "index": 0}], "usageMetadata": usage,
                               "modelVersion": path.split("/models/")[1].split(":")[0], "responseId": "gem1"})
            return
        assert path.endswith("?alt=sse"), path
        pieces = [[{"text": word + " "}] for word in text.split(" ")] if not wants_tool else [parts]
        events = []
        for index, piece in enumerate(pieces):
            final = index == len(pieces) - 1
            event: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": piece}, "index": 0}],
                                     "modelVersion": "gemini-2.5-flash", "responseId": "gem2"}
            if final:
                event["candidates"][0]["finishReason"] = "STOP"
                event["usageMetadata"] = usage
            events.append(f"data: {json.dumps(event)}\r\n\r\n".encode())
        handler.send_events(events)


class FakeAzure(FakeOpenAI):
    """Azure OpenAI: ``/openai/deployments/{deployment}/...?api-version=...`` and the ``api-key`` header."""

    API_KEY = "azure-fake-key"
    API_VERSION = "2024-10-21"

    def answer(self, handler: Any, body: dict[str, Any]) -> None:
        recorded = self.requests[-1]
        if recorded.headers.get("api-key") != self.API_KEY:
            handler._send(401, "application/json", json.dumps({"error": {
                "code": "401", "message": "Access denied due to invalid subscription key."}}).encode())
            return
        if not recorded.path.startswith("/openai/deployments/") or \
                not recorded.path.endswith(f"?api-version={self.API_VERSION}"):
            handler._send(404, "application/json", json.dumps({"error": {
                "code": "404", "message": "Resource not found"}}).encode())
            return
        if "/embeddings?" in recorded.path:
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            handler.send_json({"object": "list", "model": "text-embedding-3-small", "data": [
                {"object": "embedding", "index": i, "embedding": [0.1, 0.2]} for i, _ in enumerate(inputs)],
                "usage": {"prompt_tokens": 2, "total_tokens": 2}})
            return
        super().answer(handler, body)


def aws_event(event_type: str, payload: dict[str, Any], message_type: str = "event") -> bytes:
    """One message of AWS's binary event stream (application/vnd.amazon.eventstream), CRCs from zlib."""
    import struct
    import zlib

    def header(name: str, value: str) -> bytes:
        raw_name, raw_value = name.encode(), value.encode()
        return bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value

    kind = ":exception-type" if message_type == "exception" else ":event-type"
    headers = header(kind, event_type) + header(":content-type", "application/json") + \
        header(":message-type", message_type)
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


class FakeBedrock(FakeProvider):
    """Converse and ConverseStream (binary event stream) and InvokeModel embeddings, checking SigV4's shape."""

    ACCESS_KEY = "AKIDFAKEEXAMPLE"

    def answer(self, handler: Any, body: dict[str, Any]) -> None:
        recorded = self.requests[-1]
        authorization = recorded.headers.get("authorization", "")
        if not authorization.startswith(f"AWS4-HMAC-SHA256 Credential={self.ACCESS_KEY}/") or \
                "/bedrock/aws4_request" not in authorization or "x-amz-date" not in recorded.headers:
            handler._send(403, "application/json", json.dumps({"message": "The security token is invalid."}).encode(),
                          {"x-amzn-ErrorType": "UnrecognizedClientException:http://internal.amazon.com/"})
            return
        path = recorded.path
        if path.endswith("/invoke"):
            handler.send_json({"embeddings": [[0.5, float(len(text))] for text in body["texts"]]})
            return
        last = body["messages"][-1]
        wants_tool = "toolConfig" in body and not any("toolResult" in block for block in last["content"])
        text = "Echo: " + " ".join(block["text"] for block in last["content"] if "text" in block)
        usage = {"inputTokens": 10, "outputTokens": 4, "totalTokens": 17, "cacheReadInputTokens": 2,
                 "cacheWriteInputTokens": 1}
        stop = "tool_use" if wants_tool else "end_turn"
        name = body["toolConfig"]["tools"][0]["toolSpec"]["name"] if wants_tool else ""
        if path.endswith("/converse"):
            content: list[dict[str, Any]] = [{"text": text}]
            if wants_tool:
                content.append({"toolUse": {"toolUseId": "tooluse_fake1", "name": name, "input": {"city": "Paris"}}})
            handler.send_json({"output": {"message": {"role": "assistant", "content": content}},
                               "stopReason": stop, "usage": usage, "metrics": {"latencyMs": 12}})
            return
        events = [aws_event("messageStart", {"role": "assistant"})]
        for word in text.split(" "):
            events.append(aws_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": word + " "}}))
        events.append(aws_event("contentBlockStop", {"contentBlockIndex": 0}))
        if wants_tool:
            events.append(aws_event("contentBlockStart", {"contentBlockIndex": 1, "start": {
                "toolUse": {"toolUseId": "tooluse_fake2", "name": name}}}))
            for piece in ['{"city":', ' "Paris"}']:
                events.append(aws_event("contentBlockDelta", {"contentBlockIndex": 1,
                                                              "delta": {"toolUse": {"input": piece}}}))
            events.append(aws_event("contentBlockStop", {"contentBlockIndex": 1}))
        events.append(aws_event("messageStop", {"stopReason": stop}))
        events.append(aws_event("metadata", {"usage": usage, "metrics": {"latencyMs": 12}}))
        handler.send_response(200)
        handler.send_header("content-type", "application/vnd.amazon.eventstream")
        handler.send_header("transfer-encoding", "chunked")
        handler.end_headers()
        for event in events:
            # Split each message in two writes, as a network may.
            for piece in (event[:7], event[7:]):
                handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour of ``FaultyOpenAI``, used for one request."""

    kind: str
    seconds: float = 0.0
    retry_after: str | None = None
    after: int = 0

    @classmethod
    def rate_limit(cls, retry_after: str | None = "0") -> "Fault":
        """429 in OpenAI's shape, with ``Retry-After`` unless it is ``None``."""
        return cls("rate_limit", retry_after=retry_after)

    @classmethod
    def server_error(cls) -> "Fault":
        """500 in OpenAI's shape."""
        return cls("server_error")

    @classmethod
    def delay(cls, seconds: float) -> "Fault":
        """Nothing for ``seconds``, then the normal answer (response head included)."""
        return cls("delay", seconds=seconds)

    @classmethod
    def stall(cls, seconds: float, after: int = 2) -> "Fault":
        """A stream that sends its first ``after`` chunks, goes silent for ``seconds``, then goes on."""
        return cls("stall", seconds=seconds, after=after)

    @classmethod
    def broken_stream(cls, after: int = 3) -> "Fault":
        """A stream that sends its first ``after`` chunks, then drops the connection (no ``[DONE]``)."""
        return cls("broken_stream", after=after)

    @classmethod
    def empty_stream(cls) -> "Fault":
        """A 200 stream that ends properly without sending a single event."""
        return cls("empty_stream")

    @classmethod
    def error_event(cls) -> "Fault":
        """A 200 stream whose first (and only) event is ``data: {"error": {...}}``."""
        return cls("error_event")

    @classmethod
    def invalid_json(cls) -> "Fault":
        """A 200 whose body is an HTML page, as a misconfigured proxy in front of a server sends."""
        return cls("invalid_json")


class _Captured:
    """Stands in for a request handler to capture the answer ``FakeOpenAI`` would send."""

    def __init__(self, handler: Any) -> None:
        self.headers = handler.headers
        self.events: list[bytes] | None = None
        self.payload: Any = None
        self.raw: tuple[int, str, bytes, dict[str, str] | None] | None = None

    def send_events(self, events: list[bytes]) -> None:
        self.events = events

    def send_json(self, payload: Any) -> None:
        self.payload = payload

    def _send(self, status: int, content_type: str, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.raw = (status, content_type, payload, headers)


class FaultyOpenAI(FakeOpenAI):
    """``FakeOpenAI`` whose answers can be scripted per request with faults, in OpenAI's wire format.

    ``script(...)`` queues faults, one per incoming request, in order; a request with no fault queued
    gets the normal answer. ``set_down(True)`` answers every request with a 500 until it is cleared.
    ``rate_limited_keys`` answers 429 to requests whose ``Authorization`` is ``Bearer <key>`` for a
    key in it. ``reset()`` forgets the requests and every fault. The queue is shared by the server's
    threads under a lock.
    """

    RATE_LIMIT_BODY = {"error": {
        "message": "Rate limit reached for gpt-4o-mini in organization org-fake on requests per min (RPM): "
                   "Limit 3, Used 3, Requested 1. Please try again in 20s.",
        "type": "requests", "param": None, "code": "rate_limit_exceeded"}}
    SERVER_ERROR_BODY = {"error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error", "param": None, "code": None}}

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: list[Fault] = []
        self._down = False
        self.rate_limited_keys: set[str] = set()
        super().__init__()

    def script(self, *faults: Fault) -> None:
        """Queues ``faults`` for the next requests, one each."""
        with self._lock:
            self._script.extend(faults)

    def set_down(self, down: bool = True) -> None:
        """While down, every request gets a 500."""
        with self._lock:
            self._down = down

    def reset(self) -> None:
        """Forgets the recorded requests, the queued faults, the down state and the rate-limited keys."""
        with self._lock:
            self._script.clear()
            self._down = False
            self.rate_limited_keys = set()
            self.requests.clear()
            self.failures.clear()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._script)

    def _next_fault(self, authorization: str) -> Fault | None:
        with self._lock:
            if authorization.removeprefix("Bearer ") in self.rate_limited_keys:
                return Fault.rate_limit(retry_after=None)
            if self._script:
                return self._script.pop(0)
            if self._down:
                return Fault.server_error()
            return None

    def answer(self, handler: Any, body: dict[str, Any]) -> None:
        fault = self._next_fault(handler.headers.get("authorization", ""))
        try:
            self._answer(handler, body, fault)
        except OSError:
            # The gateway gave up on this answer (a timeout, or a hedged request that lost) and closed
            # the connection while the fake was still writing.
            handler.close_connection = True

    def _answer(self, handler: Any, body: dict[str, Any], fault: Fault | None) -> None:
        if fault is None:
            super().answer(handler, body)
            return
        if fault.kind == "rate_limit":
            headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
            handler._send(429, "application/json", json.dumps(self.RATE_LIMIT_BODY).encode(), headers)
            return
        if fault.kind == "server_error":
            handler._send(500, "application/json", json.dumps(self.SERVER_ERROR_BODY).encode())
            return
        if fault.kind == "invalid_json":
            handler._send(200, "application/json", b"<html><body><h1>502 Bad Gateway</h1></body></html>")
            return
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            super().answer(handler, body)
            return
        if fault.kind == "empty_stream":
            self._stream(handler, [])
            return
        if fault.kind == "error_event":
            self._stream(handler, [f"data: {json.dumps(self.SERVER_ERROR_BODY)}\n\n".encode()])
            return
        captured = _Captured(handler)
        super().answer(captured, body)
        if captured.events is None:
            raise AssertionError(f"the fault {fault.kind} needs a streaming request")
        if fault.kind == "stall":
            self._stream(handler, captured.events, pause_after=fault.after, pause=fault.seconds)
        elif fault.kind == "broken_stream":
            self._stream(handler, captured.events, drop_after=fault.after)
        else:
            raise AssertionError(f"unknown fault {fault.kind}")

    @staticmethod
    def _stream(handler: Any, events: list[bytes], pause_after: int | None = None, pause: float = 0.0,
                drop_after: int | None = None) -> None:
        """Sends ``events`` as a chunked SSE response, pausing or dropping the connection after some."""
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("transfer-encoding", "chunked")
        handler.end_headers()
        for index, event in enumerate(events):
            if index == drop_after:
                handler.wfile.flush()
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
                return
            if index == pause_after:
                time.sleep(pause)
            handler.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
