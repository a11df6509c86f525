"""End-to-end tests of the gateway as an operator runs it: the binary, its CLI, its shutdown and its limits.

Each test starts its own ``switchyard`` process (``SWITCHYARD_BIN``) on a free loopback port and stops it
by PID. Only the standard library and ``pytest`` are used.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from test_openai_sdk import _free_port, _health_ok

STARTUP_TIMEOUT_S = 30.0


def _binary() -> str:
    binary = os.environ.get("SWITCHYARD_BIN")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail("SWITCHYARD_BIN must name the switchyard binary")
    return binary


@contextmanager
def running_gateway(config: str | None) -> Iterator[tuple[subprocess.Popen, int, Path]]:
    """Starts the gateway with ``config`` (``{port}`` and ``{dir}`` are filled in), or on its embedded
    default when ``None``, in a fresh directory; stops it by PID."""
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-ops-"))
    port = _free_port()
    arguments = ["--port", str(port)]
    if config is not None:
        config_path = workdir / "switchyard.yaml"
        config_path.write_text(config.format(port=port, dir=workdir))
        arguments = ["--config", str(config_path)]
    log = open(workdir / "gateway.log", "wb")
    process = subprocess.Popen(
        [_binary(), "serve", *arguments], cwd=workdir, stdin=subprocess.DEVNULL, stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _health_ok(f"http://127.0.0.1:{port}"):
            assert process.poll() is None, (workdir / "gateway.log").read_text()
            assert time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.1)
        yield process, port, workdir
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _chat(port: int, content: str) -> dict:
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.load(response)


SIMULATOR = """\
providers:
  simulator: {{type: simulator, ttft: 0ms, tokens_per_second: 100000}}
"""


def test_sigterm_drains_the_request_log_to_sqlite() -> None:
    # A flush interval of an hour and a large batch: only the shutdown drain can write these rows.
    config = "listen: 127.0.0.1:{port}\nstore: sqlite:{dir}/log.db\nrequest_log: {{flush_interval: 1h, batch_size: 10000}}\n"
    with running_gateway(config + SIMULATOR) as (process, port, workdir):
        for index in range(5):
            _chat(port, f"question {index}")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        with sqlite3.connect(workdir / "log.db") as db:
            rows = db.execute("SELECT status, model, provider, output_tokens, request_body FROM request_log").fetchall()
    assert len(rows) == 5
    assert all(status == 200 and model == "gpt-4o-mini" and provider == "simulator" for status, model, provider, *_ in rows)
    assert all(tokens > 0 for *_, tokens, _ in rows)
    assert sorted(json.loads(body)["messages"][0]["content"] for *_, body in rows) == [f"question {i}" for i in range(5)]


def test_a_body_slower_than_the_body_timeout_gets_408() -> None:
    config = "listen: 127.0.0.1:{port}\nstore: memory\nserver: {{body_timeout: 1s, idle_timeout: 30s}}\n"
    with running_gateway(config + SIMULATOR) as (_, port, _dir):
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 200\r\n\r\n{\"model\": \"gpt-4o-mini\""
            )
            started = time.monotonic()
            response = sock.recv(65536).decode(errors="replace")
            elapsed = time.monotonic() - started
        assert response.startswith("HTTP/1.1 408"), response
        assert "body_timeout" in response
        assert 0.5 < elapsed < 10
        # The gateway keeps serving.
        assert _chat(port, "still there?")["choices"]


def test_a_client_that_stalls_mid_headers_is_disconnected_after_the_idle_timeout() -> None:
    config = "listen: 127.0.0.1:{port}\nstore: memory\nserver: {{idle_timeout: 1s}}\n"
    with running_gateway(config + SIMULATOR) as (_, port, _dir):
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
            started = time.monotonic()
            closed = sock.recv(65536)
            elapsed = time.monotonic() - started
        assert closed == b""
        assert 0.5 < elapsed < 10


def test_check_config_names_the_bad_key_and_accepts_a_good_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen: 127.0.0.1:4000\nproviders:\n  openai: {type: openai, api_kee: x}\n")
    result = subprocess.run([_binary(), "check-config", str(bad)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "unknown key `providers.openai.api_kee`" in result.stderr

    good = tmp_path / "good.yaml"
    good.write_text("listen: 127.0.0.1:4000\nstore: memory\n" + SIMULATOR.replace("{{", "{").replace("}}", "}"))
    result = subprocess.run([_binary(), "check-config", str(good)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_refuses_to_listen_beyond_loopback_without_a_master_key(tmp_path: Path) -> None:
    config = tmp_path / "open.yaml"
    config.write_text(f"listen: 0.0.0.0:{_free_port()}\nstore: memory\n" + SIMULATOR.format())
    result = subprocess.run([_binary(), "serve", "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "refusing to listen" in result.stderr
    assert "master" in result.stderr


def test_models_prints_the_catalog_as_a_table() -> None:
    result = subprocess.run([_binary(), "models"], capture_output=True, text=True, timeout=30, cwd=tempfile.mkdtemp())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["MODEL", "PROVIDER", "UPSTREAM"]
    mini = next(line for line in lines if line.startswith("gpt-4o-mini "))
    assert "128000" in mini and "16384" in mini and "0.15" in mini and "0.075" in mini and "0.6" in mini
    assert len(lines) > 40
