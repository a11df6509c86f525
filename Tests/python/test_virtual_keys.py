"""Virtual keys end to end: the admin API, the official openai SDK calling with them, roles, rotation,
revocation, expiry, what is at rest, and two instances sharing keys through PostgreSQL."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import openai
import pytest

from test_operations import running_gateway
from test_postgres_store import _psql, database  # noqa: F401 (fixture)

MASTER_KEY = "vk-master-key-0123456789"
CONFIG = f"""\
listen: 127.0.0.1:{{port}}
master_key: {MASTER_KEY}
store: "{{store}}"
providers:
  simulator: {{{{type: simulator, ttft: 0ms, tokens_per_second: 100000}}}}
"""


def _admin(port: int, method: str, path: str, body: Any = None, key: str = MASTER_KEY) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _client(port: int, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)


def _ask(port: int, key: str, model: str = "gpt-4o-mini") -> str:
    answer = _client(port, key).chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    return answer.choices[0].message.content or ""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("vk") / "keys.db"
    config = CONFIG.replace("{store}", f"sqlite:{path}")
    with running_gateway(config) as (_, port, _):
        yield port, path


def test_a_key_is_created_shown_once_and_calls_models(gateway: Any) -> None:
    port, path = gateway
    status, created = _admin(port, "POST", "/admin/keys", {"name": "svc-a", "team": "research", "models": ["gpt-4o-mini"],
                                                            "metadata": {"owner": "ana"}})
    assert status == 201, created
    secret = created["key"]
    assert secret.startswith("sk-sy-key_") and created["id"] in secret
    assert _ask(port, secret)
    # Outside the allow-list: 403, with the SDK's error.
    with pytest.raises(openai.PermissionDeniedError):
        _ask(port, secret, model="gpt-4o")
    # Listed without the secret; at rest only salted hashes.
    status, listed = _admin(port, "GET", "/admin/keys")
    entry = next(k for k in listed["data"] if k["id"] == created["id"])
    assert "key" not in entry and entry["secret_prefix"].startswith(secret[:26])
    assert (entry["team"], entry["models"], entry["metadata"]) == ("research", ["gpt-4o-mini"], {"owner": "ana"})
    rows = sqlite3.connect(path).execute("SELECT data FROM virtual_keys").fetchall()
    assert rows and all(secret not in row[0] and secret[-43:] not in row[0] for row in rows)


def test_revoked_unknown_and_expired_keys_get_401(gateway: Any) -> None:
    port, _ = gateway
    _, created = _admin(port, "POST", "/admin/keys", {"name": "to-revoke"})
    assert _ask(port, created["key"])
    status, revoked = _admin(port, "DELETE", f"/admin/keys/{created['id']}")
    assert status == 200 and revoked["revoked_at"]
    with pytest.raises(openai.AuthenticationError):
        _ask(port, created["key"])
    with pytest.raises(openai.AuthenticationError):
        # The last character changed for certain (a random secret may already end in "A").
        _ask(port, created["key"][:-1] + ("B" if created["key"].endswith("A") else "A"))
    _, expired = _admin(port, "POST", "/admin/keys", {"name": "old", "expires_at": "2020-01-01T00:00:00Z"})
    with pytest.raises(openai.AuthenticationError):
        _ask(port, expired["key"])


def test_rotation_keeps_the_old_secret_for_the_grace_period(gateway: Any) -> None:
    port, _ = gateway
    _, created = _admin(port, "POST", "/admin/keys", {"name": "rotating"})
    status, rotated = _admin(port, "POST", f"/admin/keys/{created['id']}/rotate", {"grace_period": "1h"})
    assert status == 200 and rotated["key"] != created["key"] and rotated["previous_secret_valid_until"]
    assert _ask(port, rotated["key"]) and _ask(port, created["key"])
    _, again = _admin(port, "POST", f"/admin/keys/{created['id']}/rotate", {"grace_period": "0s"})
    assert _ask(port, again["key"])
    for old in (created["key"], rotated["key"]):
        with pytest.raises(openai.AuthenticationError):
            _ask(port, old)


def test_roles_guard_the_admin_api(gateway: Any) -> None:
    port, _ = gateway
    _, viewer = _admin(port, "POST", "/admin/keys", {"name": "watcher", "role": "viewer"})
    _, client = _admin(port, "POST", "/admin/keys", {"name": "app"})
    _, admin = _admin(port, "POST", "/admin/keys", {"name": "ops", "role": "admin"})
    assert _admin(port, "GET", "/admin/logs?limit=1", key=viewer["key"])[0] == 200
    assert _admin(port, "GET", "/admin/stats", key=viewer["key"])[0] == 200
    assert _admin(port, "POST", "/admin/keys", {"name": "x"}, key=viewer["key"])[0] == 403
    assert _admin(port, "GET", "/admin/keys", key=viewer["key"])[0] == 403
    assert _admin(port, "GET", "/admin/logs?limit=1", key=client["key"])[0] == 403
    assert _admin(port, "DELETE", f"/admin/keys/{client['id']}", key=client["key"])[0] == 403
    status, made = _admin(port, "POST", "/admin/keys", {"name": "by-admin-key"}, key=admin["key"])
    assert status == 201 and _ask(port, made["key"])
    assert _admin(port, "GET", "/admin/keys", key="sk-sy-key_0000000000000000-nope")[0] == 401


@pytest.mark.parametrize("body, param", [
    ({}, "name"),
    ({"name": "x", "role": "root"}, "role"),
    ({"name": "x", "expires_at": "tomorrow"}, "expires_at"),
    ({"name": "x", "models": "gpt-4o"}, "models"),
    ({"name": "x", "zero_data_retention": "yes"}, "zero_data_retention"),
    ({"name": "x", "colour": "red"}, "colour"),
    ({"name": "x", "budget": {"usd": -5, "period": "monthly"}}, "budget.usd"),
    ({"name": "x", "budget": {"usd": 5, "period": "hourly"}}, "budget.period"),
    ({"name": "x", "budget": {"usd": True}}, "budget.usd"),
    ({"name": "x", "budget": 5}, "budget"),
    ({"name": "x", "limits": {"rpm": 0}}, "limits.rpm"),
    ({"name": "x", "limits": {"tpm": 1.5}}, "limits.tpm"),
    ({"name": "x", "limits": {"rpd": 5}}, "limits.rpd"),
    ({"name": "x", "limits": {}}, "limits"),
])
def test_bad_key_settings_are_400s_naming_the_field(gateway: Any, body: dict, param: str) -> None:
    port, _ = gateway
    status, error = _admin(port, "POST", "/admin/keys", body)
    assert status == 400 and error["error"]["param"] == param, error


@pytest.mark.skipif(os.environ.get("SWITCHYARD_TEST_POSTGRES") is None, reason="needs the PostgreSQL of scripts/test")
def test_two_instances_share_keys_through_postgres(database: str) -> None:  # noqa: F811
    config = CONFIG.replace("{store}", database)
    with running_gateway(config) as (_, first, _), running_gateway(config) as (_, second, _):
        _, created = _admin(first, "POST", "/admin/keys", {"name": "shared"})
        deadline = time.monotonic() + 6
        while True:  # the other instance reloads keys every 2 s
            try:
                assert _ask(second, created["key"])
                break
            except openai.AuthenticationError:
                assert time.monotonic() < deadline, "the key never reached the second instance"
                time.sleep(0.2)
        _admin(first, "DELETE", f"/admin/keys/{created['id']}")
        deadline = time.monotonic() + 6
        while True:
            try:
                _ask(second, created["key"])
                assert time.monotonic() < deadline, "the revocation never reached the second instance"
                time.sleep(0.2)
            except openai.AuthenticationError:
                break
        stored = _psql(database, "SELECT data FROM virtual_keys")
        assert created["key"] not in stored and created["key"][-43:] not in stored


def _cli(config: Any, *args: str) -> str:
    from test_operations import _binary
    result = subprocess.run([_binary(), "keys", *args, "--config", str(config)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _eventually(check: Any, seconds: float = 6) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            check()
            return
        except (AssertionError, openai.APIError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_cli_manages_keys_a_running_gateway_uses(tmp_path: Path) -> None:
    config = tmp_path / "switchyard.yaml"
    text = CONFIG.replace("{store}", f"sqlite:{tmp_path / 'cli.db'}")
    with running_gateway(text) as (_, port, _):
        config.write_text(text.format(port=port))
        created = json.loads(_cli(config, "create", "--name", "batch-job", "--team", "data", "--model", "gpt-4o-mini"))
        assert created["key"].startswith("sk-sy-") and created["team"] == "data"
        _eventually(lambda: _ask(port, created["key"]))
        listing = _cli(config, "list")
        assert created["id"] in listing and "batch-job" in listing and "active" in listing
        assert created["key"] not in listing and created["key"] not in _cli(config, "list", "--json")
        rotated = json.loads(_cli(config, "rotate", created["id"], "--grace", "0s"))
        _eventually(lambda: _ask(port, rotated["key"]))
        with pytest.raises(openai.AuthenticationError):
            _ask(port, created["key"])
        _cli(config, "revoke", created["id"])

        def refused() -> None:
            try:
                _ask(port, rotated["key"])
            except openai.AuthenticationError:
                return
            raise AssertionError("the revoked key still works")
        _eventually(refused)
        assert "revoked" in _cli(config, "list")


def test_admin_actions_are_in_the_audit_log(gateway: Any) -> None:
    port, _ = gateway
    _, admin = _admin(port, "POST", "/admin/keys", {"name": "auditor", "role": "admin"})
    _, made = _admin(port, "POST", "/admin/keys", {"name": "audited", "team": "t9"}, key=admin["key"])
    _admin(port, "POST", f"/admin/keys/{made['id']}/rotate", {"grace_period": "0s"}, key=admin["key"])
    _admin(port, "DELETE", f"/admin/keys/{made['id']}")
    status, audit = _admin(port, "GET", "/admin/audit?limit=3")
    assert status == 200
    assert [(e["action"], e["target"]) for e in audit["data"]] == [
        ("key.revoke", made["id"]), ("key.rotate", made["id"]), ("key.create", made["id"])]
    assert audit["data"][0]["actor"] == "master"
    assert audit["data"][2]["actor"] == f"auditor ({admin['id']})"
    assert audit["data"][2]["detail"] == {"name": "audited", "role": "client", "team": "t9"}
    assert made["key"] not in json.dumps(audit)
    _, viewer = _admin(port, "POST", "/admin/keys", {"name": "peek", "role": "viewer"})
    assert _admin(port, "GET", "/admin/audit", key=viewer["key"])[0] == 403


def test_spend_by_key_team_model_and_day(gateway: Any) -> None:
    port, _ = gateway
    _, first = _admin(port, "POST", "/admin/keys", {"name": "spender-1", "team": "spend-team"})
    _, second = _admin(port, "POST", "/admin/keys", {"name": "spender-2", "team": "spend-team"})
    costs = []
    for key, model in [(first, "gpt-4o-mini"), (first, "gpt-4o"), (second, "gpt-4o-mini")]:
        raw = _client(port, key["key"]).chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": "price me"}])
        costs.append(float(raw.headers["x-switchyard-cost-usd"]))
    _admin(port, "GET", "/admin/logs?limit=1")  # flushes the request log

    status, spend = _admin(port, "GET", f"/admin/keys/{first['id']}/spend")
    assert status == 200, spend
    assert spend["total"]["calls"] == 2
    assert abs(spend["total"]["cost_usd"] - (costs[0] + costs[1])) < 1e-9
    assert sorted(row["model"] for row in spend["by_model"]) == ["gpt-4o", "gpt-4o-mini"]
    assert len(spend["by_day"]) == 1 and spend["by_day"][0]["calls"] == 2

    status, grouped = _admin(port, "GET", "/admin/spend?group_by=team,key&team=spend-team")
    assert status == 200 and grouped["group_by"] == ["team", "key"]
    rows = {row["key"]: row for row in grouped["data"]}
    assert set(rows) == {first["id"], second["id"]}
    assert rows[second["id"]]["calls"] == 1 and abs(rows[second["id"]]["cost_usd"] - costs[2]) < 1e-9

    _, viewer = _admin(port, "POST", "/admin/keys", {"name": "finance", "role": "viewer"})
    assert _admin(port, "GET", "/admin/spend?group_by=model", key=viewer["key"])[0] == 200
    status, error = _admin(port, "GET", "/admin/spend?group_by=team,colour")
    assert status == 400 and error["error"]["param"] == "group_by"
