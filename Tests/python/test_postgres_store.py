"""The gateway binary on a PostgreSQL store: migrations at start, the request log, readiness, refusals.

Runs against the throwaway cluster scripts/test starts (``SWITCHYARD_TEST_POSTGRES``); each test gets
a database of its own, created and dropped with ``psql``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from test_operations import _binary, _chat, _free_port, running_gateway

SERVER = os.environ.get("SWITCHYARD_TEST_POSTGRES")
pytestmark = pytest.mark.skipif(SERVER is None, reason="scripts/test starts PostgreSQL and sets SWITCHYARD_TEST_POSTGRES")
MASTER_KEY = "pg-master-key-0123456789"


def _psql(url: str, sql: str) -> str:
    return subprocess.run(["psql", url, "-Atqc", sql], check=True, capture_output=True, text=True).stdout


@pytest.fixture()
def database() -> Iterator[str]:
    assert SERVER is not None
    name = "sy_py_" + uuid.uuid4().hex
    _psql(SERVER, f"CREATE DATABASE {name}")
    url = SERVER.replace("/postgres?", f"/{name}?")
    yield url
    _psql(SERVER, f"DROP DATABASE {name} WITH (FORCE)")


def _config(store: str) -> str:
    return f"""\
listen: 127.0.0.1:{{port}}
master_key: {MASTER_KEY}
store: "{store}"
providers:
  simulator: {{{{type: simulator, ttft: 0ms, tokens_per_second: 100000}}}}
"""


def _get(port: int, path: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"authorization": f"Bearer {MASTER_KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _chat_with_key(port: int, content: str) -> str:
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
        headers={"content-type": "application/json", "authorization": f"Bearer {MASTER_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return response.headers["x-switchyard-request-id"]


def test_the_request_log_lives_in_postgres(database: str) -> None:
    with running_gateway(_config(database)) as (_, port, _):
        request_id = _chat_with_key(port, "hello postgres")
        status, ready = _get(port, "/ready")
        assert (status, ready["status"]) == (200, "ready")
        status, logs = _get(port, "/admin/logs?limit=5")
        assert status == 200
        assert [row["id"] for row in logs["data"]] == [request_id]
    # The row is in the database itself, with the columns the admin API showed.
    assert _psql(database, f"SELECT model, status, provider FROM request_log WHERE id = '{request_id}'").strip() \
        == "gpt-4o-mini|200|simulator"
    assert _psql(database, "SELECT id FROM switchyard_migrations ORDER BY id").split() \
        == ["0001_request_log", "0002_route_reason", "0003_virtual_keys", "0004_audit_log",
            "0005_request_log_key_and_team", "0006_quotas_and_teams",
            "0007_provider_credentials", "0008_spend_daily", "0009_response_cache"]


def test_two_instances_share_one_log_and_migrate_once(database: str) -> None:
    with running_gateway(_config(database)) as (_, first, _), running_gateway(_config(database)) as (_, second, _):
        ids = {_chat_with_key(first, "one"), _chat_with_key(second, "two")}
        for port in (first, second):
            # Each instance flushes its own rows at once when asked, the other's within its flush interval.
            deadline = time.monotonic() + 5
            while True:
                _, logs = _get(port, "/admin/logs?limit=10")
                if {row["id"] for row in logs["data"]} >= ids or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert {row["id"] for row in logs["data"]} >= ids
    assert _psql(database, "SELECT count(*) FROM switchyard_migrations").strip() == "9"


def _start_fails(config: str) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-pg-"))
    path = workdir / "switchyard.yaml"
    path.write_text(config.format(port=_free_port()))
    result = subprocess.run([_binary(), "serve", "--config", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    return result.stdout + result.stderr


def test_a_database_migrated_by_a_newer_binary_is_refused(database: str) -> None:
    with running_gateway(_config(database)):
        pass
    _psql(database, "INSERT INTO switchyard_migrations (id) VALUES ('0099_future')")
    output = _start_fails(_config(database))
    assert "newer Switchyard" in output and "0099_future" in output, output


def test_an_unreachable_database_stops_the_start_with_a_message_and_no_password() -> None:
    output = _start_fails(_config(f"postgres://gw:hunter2secret@127.0.0.1:{_free_port()}/none?sslmode=disable"))
    assert "cannot prepare postgres://gw:***@127.0.0.1" in output, output
    assert "hunter2secret" not in output


class _CuttableProxy:
    """A TCP relay on loopback in front of PostgreSQL; ``cut()`` makes it swallow traffic, as a
    network partition does: connections stay open and nothing answers."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.cut_off = threading.Event()
        self.closed = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.closed.is_set():
                client.close()
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self.cut_off.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.cut_off.set()

    def close(self) -> None:
        # Shut down before closing: a thread blocked in accept() on a merely closed socket keeps
        # accepting on whatever socket later reuses its descriptor number, stealing other tests' calls.
        self.closed.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()


def test_ready_fails_within_seconds_when_postgres_stops_answering(database: str) -> None:
    port_match = re.search(r"@127\.0\.0\.1:(\d+)/", database)
    assert port_match, database
    proxy = _CuttableProxy(int(port_match.group(1)))
    try:
        through_proxy = database.replace(f":{port_match.group(1)}/", f":{proxy.port}/")
        with running_gateway(_config(through_proxy)) as (_, port, _):
            assert _get(port, "/ready")[0] == 200
            proxy.cut()
            started = time.monotonic()
            status, body = _get(port, "/ready")
            waited = time.monotonic() - started
            assert status == 503 and body["error"]["code"] == "store_unreachable", body
            assert 1.5 <= waited <= 5, waited
            assert _get(port, "/health")[0] == 200
    finally:
        proxy.close()
