"""Upstream calls through an HTTP CONNECT proxy: per provider (`proxy:`) and from the environment.

A small CONNECT proxy and an OpenAI-compatible upstream run in threads on loopback; the gateway is
the real binary.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from test_openai_sdk import _free_port, _health_ok
from test_operations import _binary


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (the http.server API)
        self.rfile.read(int(self.headers.get("content-length", "0")))
        body = json.dumps({
            "id": "chatcmpl-proxy", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "via the tunnel"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class ConnectProxy:
    """A CONNECT-only proxy that records each tunnel's target and relays bytes both ways."""

    def __init__(self, answer_status: int = 200) -> None:
        self.answer_status = answer_status
        self.tunnels: list[str] = []
        self.authorizations: list[str | None] = []
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode()
        method, target, _ = head.split("\r\n")[0].split(" ")
        headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:]}
        self.tunnels.append(f"{method} {target}")
        self.authorizations.append(headers.get("proxy-authorization"))
        if method != "CONNECT" or self.answer_status != 200:
            status = self.answer_status if self.answer_status != 200 else 405
            client.sendall(f"HTTP/1.1 {status} No\r\nContent-Length: 0\r\n\r\n".encode())
            client.close()
            return
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pipe(source: socket.socket, sink: socket.socket) -> None:
            try:
                while chunk := source.recv(65536):
                    sink.sendall(chunk)
            except OSError:
                pass
            finally:
                for sock in (source, sink):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        pipe(upstream, client)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def upstream_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _serve(config: str, env: dict[str, str]) -> tuple[subprocess.Popen, int, Path]:
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-proxy-"))
    port = _free_port()
    (workdir / "c.yaml").write_text(config.replace("PORT", str(port)))
    clean = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    process = subprocess.Popen(
        [_binary(), "serve", "--config", str(workdir / "c.yaml")], cwd=workdir, env={**clean, **env},
        stdout=open(workdir / "log", "wb"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while not _health_ok(f"http://127.0.0.1:{port}"):
        assert process.poll() is None, (workdir / "log").read_text()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return process, port, workdir


def _chat(port: int) -> tuple[int, dict]:
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions", data=body, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _config(upstream_port: int, proxy_line: str = "") -> str:
    return (
        "listen: 127.0.0.1:PORT\nstore: memory\nproviders:\n"
        f"  up: {{type: openai, base_url: 'http://127.0.0.1:{upstream_port}/v1', api_key: none{proxy_line}}}\n"
        "models:\n  m:\n    routes: [{provider: up, model: m}]\n"
    )


def test_a_provider_proxy_tunnels_every_call_with_its_credentials(upstream_port: int) -> None:
    proxy = ConnectProxy()
    process, port, _ = _serve(_config(upstream_port, f", proxy: 'http://user:secret@127.0.0.1:{proxy.port}'"), {})
    try:
        for _ in range(6):
            status, body = _chat(port)
            assert status == 200, body
            assert body["choices"][0]["message"]["content"] == "via the tunnel"
        # Tunnels to the upstream's host and port, kept alive and reused: at most one per event loop
        # (one per core), not one per call.
        assert set(proxy.tunnels) == {f"CONNECT 127.0.0.1:{upstream_port}"}
        assert len(proxy.tunnels) <= min(os.cpu_count() or 1, 4)
        assert set(proxy.authorizations) == {"Basic dXNlcjpzZWNyZXQ="}
    finally:
        process.kill()
        proxy.close()


def test_the_environment_proxy_applies_except_for_no_proxy_hosts(upstream_port: int) -> None:
    proxy = ConnectProxy()
    process, port, _ = _serve(_config(upstream_port), {"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}"})
    try:
        assert _chat(port)[0] == 200
        assert proxy.tunnels == [f"CONNECT 127.0.0.1:{upstream_port}"]
    finally:
        process.kill()
    process, port, _ = _serve(
        _config(upstream_port), {"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}", "NO_PROXY": "localhost,127.0.0.1"}
    )
    try:
        assert _chat(port)[0] == 200
        assert len(proxy.tunnels) == 1  # straight to the upstream this time
    finally:
        process.kill()
        proxy.close()


def test_a_proxy_that_refuses_the_tunnel_is_a_502_naming_it(upstream_port: int) -> None:
    proxy = ConnectProxy(answer_status=407)
    process, port, _ = _serve(_config(upstream_port, f", proxy: 'http://127.0.0.1:{proxy.port}'"), {})
    try:
        status, body = _chat(port)
        assert status == 502
        assert "the proxy asks for credentials (HTTP 407)" in body["error"]["message"]
        assert str(proxy.port) not in body["error"]["message"]
    finally:
        process.kill()
        proxy.close()
