"""Teams' own provider keys (bring your own key): stored sealed through the admin API, used for the
team's calls instead of the gateway's key, recorded in the request log, never shown or stored in clear.

The upstream is a fake OpenAI server on loopback that records the ``authorization`` header of every call.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from fake_providers import FakeOpenAI
from test_governance import _request
from test_operations import running_gateway

MASTER_KEY = "byok-master-key-0123456789"
GATEWAY_UPSTREAM_KEY = "sk-gateway-upstream-key-0001"
TEAM_KEY = "sk-team-research-own-key-98765"
CREDENTIAL_KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_CREDENTIAL_KEY = base64.b64encode(bytes(range(1, 33))).decode()


def _config(upstream: FakeOpenAI, store: str, credential_key: Optional[str]) -> str:
    line = f"credential_key: {credential_key}\n" if credential_key else ""
    return f"""\
listen: 127.0.0.1:{{port}}
master_key: {MASTER_KEY}
store: "{store}"
{line}providers:
  openai: {{{{type: openai, base_url: "{upstream.url}/v1", api_key: {GATEWAY_UPSTREAM_KEY}}}}}
  sim: {{{{type: simulator}}}}
models:
  gpt-4o-mini:
    routes: [{{{{provider: openai, model: gpt-4o-mini}}}}]
"""


def _admin(port: int, method: str, path: str, body: Any = None, key: str = MASTER_KEY) -> tuple[int, dict]:
    status, answer, _ = _request(port, method, path, body, key)
    return status, answer


def _call(port: int, key: str) -> dict:
    status, body, _ = _request(port, "POST", "/v1/chat/completions",
                               {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}, key)
    assert status == 200, body
    return body


@pytest.fixture()
def upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    yield fake
    fake.close()


def _keys(port: int) -> tuple[str, str]:
    """A client key in team `research` and one without a team."""
    assert _admin(port, "POST", "/admin/teams", {"name": "research"})[0] == 201
    status, member = _admin(port, "POST", "/admin/keys", {"name": "member", "team": "research"})
    assert status == 201, member
    status, outsider = _admin(port, "POST", "/admin/keys", {"name": "outsider"})
    assert status == 201, outsider
    return member["key"], outsider["key"]


def test_a_team_key_serves_the_team_and_only_the_team(upstream: FakeOpenAI, tmp_path: Path) -> None:
    database = tmp_path / "byok.db"
    with running_gateway(_config(upstream, f"sqlite:{database}", CREDENTIAL_KEY)) as (_, port, _):
        member, outsider = _keys(port)
        status, stored = _admin(port, "PUT", "/admin/teams/research/credentials/openai", {"api_key": TEAM_KEY})
        assert status == 200, stored
        assert stored == {"object": "credential", "team": "research", "provider": "openai",
                          "hint": "sk-…8765", "created_at": stored["created_at"]}
        status, listed = _admin(port, "GET", "/admin/teams/research/credentials")
        assert status == 200 and [c["hint"] for c in listed["data"]] == ["sk-…8765"]
        assert TEAM_KEY not in json.dumps(listed)

        _call(port, member)
        assert upstream.requests[-1].headers["authorization"] == f"Bearer {TEAM_KEY}"
        _call(port, outsider)
        assert upstream.requests[-1].headers["authorization"] == f"Bearer {GATEWAY_UPSTREAM_KEY}"

        assert _admin(port, "DELETE", "/admin/teams/research/credentials/openai")[0] == 200
        _call(port, member)
        assert upstream.requests[-1].headers["authorization"] == f"Bearer {GATEWAY_UPSTREAM_KEY}"
        assert _admin(port, "DELETE", "/admin/teams/research/credentials/openai")[0] == 404

        # The request log says whose key served each call (rows are written within half a second).
        for _ in range(50):
            status, logs = _admin(port, "GET", "/admin/logs?limit=3")
            if len(logs.get("data", [])) == 3:
                break
            time.sleep(0.1)
        assert [row["credential"] for row in reversed(logs["data"])] == ["team", "gateway", "gateway"]

        status, audit = _admin(port, "GET", "/admin/audit?limit=10")
        actions = [(e["action"], e["target"]) for e in audit["data"] if e["action"].startswith("credential.")]
        assert actions == [("credential.delete", "research/openai"), ("credential.set", "research/openai")]
        assert TEAM_KEY not in json.dumps(audit)

    # Deleted through the API: gone from the table too.
    assert sqlite3.connect(database).execute("SELECT count(*) FROM provider_credentials").fetchone() == (0,)


def test_credentials_are_sealed_at_rest_and_need_their_key(upstream: FakeOpenAI, tmp_path: Path) -> None:
    database = tmp_path / "sealed.db"
    with running_gateway(_config(upstream, f"sqlite:{database}", CREDENTIAL_KEY)) as (_, port, _):
        member, _ = _keys(port)
        assert _admin(port, "PUT", "/admin/teams/research/credentials/openai", {"api_key": TEAM_KEY})[0] == 200
        _call(port, member)
        assert upstream.requests[-1].headers["authorization"] == f"Bearer {TEAM_KEY}"
    (team, provider, data), = sqlite3.connect(database).execute(
        "SELECT team, provider, data FROM provider_credentials").fetchall()
    assert (team, provider) == ("research", "openai")
    assert TEAM_KEY not in data and TEAM_KEY[3:-4] not in data
    sealed = base64.b64decode(json.loads(data)["sealed"])
    assert len(sealed) == 12 + len(TEAM_KEY) + 16  # nonce, ciphertext, tag

    # Under another credential key the sealed key does not open: the team's calls use the gateway's key.
    with running_gateway(_config(upstream, f"sqlite:{database}", OTHER_CREDENTIAL_KEY)) as (_, port, workdir):
        _call(port, member)
        assert upstream.requests[-1].headers["authorization"] == f"Bearer {GATEWAY_UPSTREAM_KEY}"
        assert "do not open under this credential key" in (workdir / "gateway.log").read_text()


def test_bad_credential_requests_are_refused(upstream: FakeOpenAI, tmp_path: Path) -> None:
    with running_gateway(_config(upstream, f"sqlite:{tmp_path / 'bad.db'}", CREDENTIAL_KEY)) as (_, port, _):
        _keys(port)
        path = "/admin/teams/research/credentials"
        cases = [
            ("/admin/teams/nobody/credentials/openai", {"api_key": TEAM_KEY}, 404, "team_not_found"),
            (f"{path}/nowhere", {"api_key": TEAM_KEY}, 404, "provider_not_found"),
            (f"{path}/sim", {"api_key": TEAM_KEY}, 400, "invalid_value"),
            (f"{path}/openai", {"key": TEAM_KEY}, 400, None),
            (f"{path}/openai", {"api_key": ""}, 400, None),
            (f"{path}/openai", {"api_key": "two words"}, 400, None),
        ]
        for target, body, expected, code in cases:
            status, answer = _admin(port, "PUT", target, body)
            assert status == expected, (target, body, answer)
            if code:
                assert answer["error"]["code"] == code, answer
        status, viewer = _admin(port, "POST", "/admin/keys", {"name": "v", "role": "viewer"})
        assert _admin(port, "PUT", f"{path}/openai", {"api_key": TEAM_KEY}, key=viewer["key"])[0] == 403
        assert _admin(port, "GET", path, key=viewer["key"])[0] == 200


def test_without_a_credential_key_teams_cannot_store_keys(upstream: FakeOpenAI, tmp_path: Path) -> None:
    with running_gateway(_config(upstream, f"sqlite:{tmp_path / 'none.db'}", None)) as (_, port, _):
        _keys(port)
        status, answer = _admin(port, "PUT", "/admin/teams/research/credentials/openai", {"api_key": TEAM_KEY})
        assert status == 400 and answer["error"]["code"] == "credential_key_missing", answer
