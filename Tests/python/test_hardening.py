"""Regression tests for faults that once took the whole gateway down from one request.

Each starts the real ``switchyard`` binary (``SWITCHYARD_BIN``) and checks both the answer and that the
process is still serving afterwards.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from test_operations import SIMULATOR, _chat, running_gateway


def _post(port: int, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.read().decode()


CONFIG = "listen: 127.0.0.1:{port}\nstore: memory\n" + SIMULATOR


def test_negative_embedding_dimensions_get_a_400_naming_the_field() -> None:
    with running_gateway(CONFIG) as (process, port, _):
        status, body = _post(port, "/v1/embeddings", {"model": "text-embedding-3-small", "input": "x", "dimensions": -1})
        assert status == 400
        assert body["error"]["param"] == "dimensions"
        # More dimensions than the model has is the provider's 400, as the real API answers.
        status, body = _post(port, "/v1/embeddings", {"model": "text-embedding-3-small", "input": "x", "dimensions": 4000})
        assert status == 400
        assert "1536" in body["error"]["message"]
        status, body = _post(port, "/v1/embeddings", {"model": "text-embedding-3-small", "input": "x", "dimensions": 8})
        assert status == 200 and len(body["data"][0]["embedding"]) == 8
        assert process.poll() is None


class _RateLimitedUpstream(BaseHTTPRequestHandler):
    """An OpenAI-compatible upstream that always answers 429 with an absurd ``Retry-After``."""

    calls = 0

    def do_POST(self) -> None:  # noqa: N802 (the http.server API)
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("content-length", "0")))
        body = json.dumps({"error": {"message": "slow down", "type": "rate_limit_error"}}).encode()
        self.send_response(429)
        self.send_header("content-type", "application/json")
        self.send_header("retry-after", "inf")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def rate_limited_upstream() -> Iterator[int]:
    _RateLimitedUpstream.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RateLimitedUpstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_an_infinite_retry_after_is_a_malformed_answer_and_the_next_route_serves(rate_limited_upstream: int) -> None:
    config = CONFIG + (
        "  up: {{type: openai, base_url: 'http://127.0.0.1:" + str(rate_limited_upstream) + "/v1', api_key: none}}\n"
        "models:\n"
        "  m:\n"
        "    routes: [{{provider: up, model: gpt-4o-mini}}, {{provider: simulator, model: gpt-4o-mini}}]\n"
    )
    with running_gateway(config) as (process, port, _):
        status, body = _post(port, "/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        assert status == 200, body
        assert body["choices"][0]["message"]["content"]
        # Malformed, so not retried on the same route: one upstream call, then the simulator answered.
        assert _RateLimitedUpstream.calls == 1
        assert process.poll() is None
        assert _chat(port, "still serving?")["choices"]


def test_made_up_model_names_get_404_and_never_grow_the_metrics() -> None:
    with running_gateway(CONFIG) as (process, port, _):
        _chat(port, "warm up")
        before = _get(port, "/metrics").count("\n")
        for index in range(50):
            status, body = _post(
                port, "/v1/chat/completions",
                {"model": f"simulator/made-up-{index}", "messages": [{"role": "user", "content": "hi"}]},
            )
            assert status == 404
            assert f"simulator/made-up-{index}" in body["error"]["message"]
            status, _ = _post(port, "/v1/chat/completions", {"model": f"nope-{index}", "messages": [{"role": "user", "content": "hi"}]})
            assert status == 404
        metrics = _get(port, "/metrics")
        assert "made-up" not in metrics and "nope-" not in metrics
        # The first failures add one `other` series per metric; fifty more names add nothing.
        _post(port, "/v1/chat/completions", {"model": "another-one", "messages": [{"role": "user", "content": "hi"}]})
        assert _get(port, "/metrics").count("\n") == metrics.count("\n")
        assert metrics.count("\n") - before < 40
        # A catalog model is still served by the simulator under its pinned name.
        status, _ = _post(port, "/v1/chat/completions", {"model": "simulator/gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        assert status == 200
        assert process.poll() is None


def test_connections_beyond_max_connections_are_closed() -> None:
    config = CONFIG.replace("store: memory\n", "store: memory\nserver: {{max_connections: 2}}\n")
    with running_gateway(config) as (process, port, _):
        def served_connection() -> socket.socket:
            # Served, so surely counted, and kept open. The health checks' closed connections may
            # still be counted for a moment, so a refused attempt is tried again.
            deadline = time.monotonic() + 5
            while True:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                if sock.recv(4096).startswith(b"HTTP/1.1 200"):
                    return sock
                sock.close()
                assert time.monotonic() < deadline
                time.sleep(0.05)

        held = [served_connection() for _ in range(2)]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as extra:
                assert extra.recv(1024) == b""  # closed by the gateway without an answer
        finally:
            for sock in held:
                sock.close()
        # Once the held connections are gone, new ones are served again.
        deadline = time.monotonic() + 5
        while True:
            try:
                assert _chat(port, "room again?")["choices"]
                break
            except (ConnectionError, urllib.error.URLError):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert process.poll() is None


def test_a_body_nested_past_512_levels_is_a_400_not_a_crash() -> None:
    with running_gateway(CONFIG) as (process, port, _):
        for path in ("/v1/chat/completions", "/v1/embeddings"):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", data=b"[" * 513, headers={"content-type": "application/json"}
            )
            try:
                urllib.request.urlopen(request, timeout=10)
                raise AssertionError("a 513-deep body was accepted")
            except urllib.error.HTTPError as error:
                assert error.code == 400
                assert json.load(error)["error"]["code"] == "nesting_too_deep"
        assert process.poll() is None
        assert _chat(port, "still serving?")["choices"]
