"""Budgets, rate limits and teams end to end: key and team policies through the admin API, 429s from
the official openai SDK and plain HTTP, what a budget lets through, teams drawing together, the audit
log, and two instances sharing counters through PostgreSQL.

Rate limits count in fixed UTC minutes, so every test that fills a minute first makes sure enough of
the current minute is left (``_fresh_minute``).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import threading
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

import openai
import pytest

from test_operations import running_gateway
from test_postgres_store import _psql, database  # noqa: F401 (fixture)
from test_virtual_keys import CONFIG, MASTER_KEY, _client

needs_postgres = pytest.mark.skipif(os.environ.get("SWITCHYARD_TEST_POSTGRES") is None,
                                    reason="needs the PostgreSQL of scripts/test")


def _request(port: int, method: str, path: str, body: Any = None,
             key: Optional[str] = MASTER_KEY) -> tuple[int, dict, dict[str, str]]:
    """One HTTP exchange: status, JSON body and headers (names in lower case), errors included."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), {k.lower(): v for k, v in error.headers.items()}


def _admin(port: int, method: str, path: str, body: Any = None, key: Optional[str] = MASTER_KEY) -> tuple[int, dict]:
    status, answer, _ = _request(port, method, path, body, key)
    return status, answer


def _chat(port: int, key: str, max_tokens: int = 20) -> tuple[int, dict, dict[str, str]]:
    """A small chat call with a virtual key, by plain HTTP."""
    body = {"model": "gpt-4o-mini", "max_tokens": max_tokens, "messages": [{"role": "user", "content": "hi"}]}
    return _request(port, "POST", "/v1/chat/completions", body, key)


def _new_key(port: int, name: str, **settings: Any) -> dict:
    status, created = _admin(port, "POST", "/admin/keys", {"name": name, **settings})
    assert status == 201, created
    return created


def _seconds_left_in_minute() -> float:
    return 60 - time.time() % 60


def _fresh_minute(needed: float) -> None:
    """Waits for the next UTC minute when fewer than ``needed`` seconds of this one are left."""
    left = _seconds_left_in_minute()
    if left < needed:
        time.sleep(left + 0.2)


def _eventually(check: Any, seconds: float = 4) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _estimate_in(message: str) -> float:
    """The reservation a budget refusal names: `this call could cost up to USD 0.000015`."""
    match = re.search(r"could cost up to USD ([0-9]+\.[0-9]+)", message)
    assert match, message
    return float(match.group(1))


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("gov") / "governance.db"
    with running_gateway(CONFIG.replace("{store}", f"sqlite:{path}")) as (_, port, _):
        yield port


def test_keys_show_their_budget_and_limits(gateway: int) -> None:
    port = gateway
    created = _new_key(port, "capped", budget={"usd": 12.5, "period": "weekly"}, limits={"rpm": 600, "tpm": 200000})
    assert created["budget"] == {"usd": 12.5, "period": "weekly"}
    assert created["limits"] == {"rpm": 600, "tpm": 200000}
    status, shown = _admin(port, "GET", f"/admin/keys/{created['id']}")
    assert status == 200 and (shown["budget"], shown["limits"]) == (created["budget"], created["limits"])
    _, listed = _admin(port, "GET", "/admin/keys")
    entry = next(k for k in listed["data"] if k["id"] == created["id"])
    assert (entry["budget"], entry["limits"]) == (created["budget"], created["limits"])
    _, audit = _admin(port, "GET", "/admin/audit?limit=1")
    assert audit["data"][0]["action"] == "key.create" and audit["data"][0]["target"] == created["id"]
    assert audit["data"][0]["detail"]["budget"] == "12.5 USD weekly"
    assert audit["data"][0]["detail"]["limits"] == "rpm=600 tpm=200000"
    # The period defaults to monthly; a key without settings shows neither.
    assert _new_key(port, "monthly", budget={"usd": 3})["budget"] == {"usd": 3, "period": "monthly"}
    plain = _new_key(port, "plain")
    assert plain.get("budget") is None and plain.get("limits") is None


def test_a_key_over_its_requests_per_minute_gets_429_from_the_sdk(gateway: int) -> None:
    port = gateway
    limited = _new_key(port, "three-a-minute", limits={"rpm": 3})
    unlimited = _new_key(port, "free-runner")
    _fresh_minute(5)
    client = _client(port, limited["key"])
    for _ in range(3):
        answer = client.chat.completions.create(model="gpt-4o-mini", max_tokens=20,
                                                messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="gpt-4o-mini", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    error = refused.value
    assert error.status_code == 429
    assert (error.code, error.type) == ("rate_limit_exceeded", "rate_limit_error")
    assert "three-a-minute" in error.message and "3 requests per minute" in error.message
    retry_after = int(error.response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert abs(retry_after - _seconds_left_in_minute()) <= 2, retry_after
    # By plain HTTP too, and the same minute stays closed; another key is not affected.
    status, body, headers = _chat(port, limited["key"])
    assert status == 429 and body["error"]["code"] == "rate_limit_exceeded", body
    assert body["error"]["type"] == "rate_limit_error" and 1 <= int(headers["retry-after"]) <= 60
    for _ in range(5):
        assert _chat(port, unlimited["key"])[0] == 200


def test_a_budget_lets_calls_through_until_it_cannot_cover_the_next(gateway: int) -> None:
    port = gateway
    budget = 0.0002
    key = _new_key(port, "small-budget", budget={"usd": budget, "period": "total"})
    costs: list[float] = []
    for _ in range(200):
        status, body, headers = _chat(port, key["key"])
        if status != 200:
            break
        assert float(headers["x-switchyard-cost-usd"]) == body["usage"]["cost"]
        costs.append(body["usage"]["cost"])
    else:
        pytest.fail(f"200 calls and no refusal: spent {sum(costs)} of a {budget} USD budget")
    assert status == 429, body
    assert (body["error"]["code"], body["error"]["type"]) == ("budget_exceeded", "insufficient_quota")
    assert "small-budget" in body["error"]["message"]
    assert len(costs) >= 2 and all(cost > 0 for cost in costs)
    assert sum(costs) <= budget
    # Refused only because the rest cannot cover the call's reserved estimate (printed to 6 decimals),
    # which is at least what a call really costs.
    estimate = _estimate_in(body["error"]["message"])
    assert estimate + 5e-7 >= max(costs)
    assert sum(costs) + estimate + 5e-7 > budget, (sum(costs), estimate)
    # The budget stays used up.
    status, body, _ = _chat(port, key["key"])
    assert status == 429 and body["error"]["code"] == "budget_exceeded"


def _monthly_window() -> str:
    return "m" + datetime.now(timezone.utc).strftime("%Y-%m")


def test_teams_are_created_read_changed_and_deleted_with_audit(gateway: int) -> None:
    port = gateway
    body = {"name": "research", "budget": {"usd": 25, "period": "monthly"}, "limits": {"rpm": 600},
            "metadata": {"cost_center": "r-17"}}
    status, team = _admin(port, "POST", "/admin/teams", body)
    assert status == 201, team
    assert (team["object"], team["name"], team["keys"]) == ("team", "research", 0)
    assert (team["budget"], team["limits"], team["metadata"]) == (body["budget"], body["limits"], body["metadata"])
    assert team["budget_status"]["window"] == _monthly_window()
    assert (team["budget_status"]["spent_usd"], team["budget_status"]["remaining_usd"]) == (0, 25)
    assert team["budget_status"]["period_start"].startswith(_monthly_window()[1:] + "-01T00:00:00")

    status, error = _admin(port, "POST", "/admin/teams", {"name": "research"})
    assert status == 409 and error["error"]["code"] == "team_exists", error

    viewer = _new_key(port, "team-watcher", role="viewer")
    client = _new_key(port, "team-app")
    status, listed = _admin(port, "GET", "/admin/teams", key=viewer["key"])
    assert status == 200 and listed["object"] == "list"
    assert [t for t in listed["data"] if t["name"] == "research"][0]["budget"] == body["budget"]
    status, shown = _admin(port, "GET", "/admin/teams/research", key=viewer["key"])
    assert status == 200 and shown["metadata"] == {"cost_center": "r-17"}
    assert _admin(port, "GET", "/admin/teams", key=client["key"])[0] == 403
    assert _admin(port, "GET", "/admin/teams/research", key=client["key"])[0] == 403
    assert _admin(port, "GET", "/admin/teams", key=None)[0] == 401
    assert _admin(port, "GET", "/admin/teams/research", key=None)[0] == 401
    assert _admin(port, "POST", "/admin/teams", {"name": "by-viewer"}, key=viewer["key"])[0] == 403
    assert _admin(port, "DELETE", "/admin/teams/research", key=viewer["key"])[0] == 403

    # PUT replaces the policy: the budget is gone, the limits changed.
    status, changed = _admin(port, "PUT", "/admin/teams/research", {"limits": {"rpm": 50, "tpm": 1000}})
    assert status == 200, changed
    assert changed.get("budget") is None and changed.get("budget_status") is None
    assert changed["limits"] == {"rpm": 50, "tpm": 1000}
    assert _admin(port, "GET", "/admin/teams/research")[1]["limits"] == {"rpm": 50, "tpm": 1000}
    status, made = _admin(port, "PUT", "/admin/teams/made-by-put", {"budget": {"usd": 5, "period": "daily"}})
    assert status == 201 and made["name"] == "made-by-put", made
    assert made["budget_status"]["window"] == "d" + datetime.now(timezone.utc).strftime("%Y-%m-%d")

    status, deleted = _admin(port, "DELETE", "/admin/teams/research")
    assert status == 200 and deleted["name"] == "research"
    status, error = _admin(port, "GET", "/admin/teams/research")
    assert status == 404 and error["error"]["code"] == "team_not_found", error
    assert _admin(port, "DELETE", "/admin/teams/research")[0] == 404

    _, audit = _admin(port, "GET", "/admin/audit?limit=6")
    audit["data"] = [e for e in audit["data"] if e["action"].startswith("team.")]  # the two keys are between
    assert [(e["action"], e["target"]) for e in audit["data"]] == [
        ("team.delete", "research"), ("team.create", "made-by-put"), ("team.update", "research"),
        ("team.create", "research")]
    assert audit["data"][3]["detail"] == {"budget": "25.0 USD monthly", "limits": "rpm=600"}
    assert audit["data"][2]["detail"] == {"limits": "rpm=50 tpm=1000"}
    assert all(e["actor"] == "master" for e in audit["data"])


@pytest.mark.parametrize("body, param", [
    ({}, "name"),
    ({"name": "a/b"}, "name"),
    ({"name": ""}, "name"),
    ({"name": 7}, "name"),
    ({"name": "x", "colour": "red"}, "colour"),
    ({"name": "x", "budget": {"usd": -1, "period": "monthly"}}, "budget.usd"),
    ({"name": "x", "budget": {"usd": 0}}, "budget.usd"),
    ({"name": "x", "budget": {"usd": 5, "period": "hourly"}}, "budget.period"),
    ({"name": "x", "budget": {"usd": 5, "currency": "EUR"}}, "budget.currency"),
    ({"name": "x", "budget": "lots"}, "budget"),
    ({"name": "x", "limits": {"rpm": 0}}, "limits.rpm"),
    ({"name": "x", "limits": {"tpm": 2.5}}, "limits.tpm"),
    ({"name": "x", "limits": {}}, "limits"),
    ({"name": "x", "metadata": {"n": 1}}, "metadata"),
])
def test_bad_team_settings_are_400s_naming_the_member(gateway: int, body: dict, param: str) -> None:
    port = gateway
    status, error = _admin(port, "POST", "/admin/teams", body)
    assert status == 400 and error["error"]["param"] == param, error
    if param != "name":  # PUT takes the name from the path
        status, error = _admin(port, "PUT", "/admin/teams/x", {k: v for k, v in body.items() if k != "name"})
        assert status == 400 and error["error"]["param"] == param, error
    assert _admin(port, "GET", "/admin/teams/x")[0] == 404


def test_a_put_whose_name_differs_from_the_path_is_refused(gateway: int) -> None:
    status, error = _admin(gateway, "PUT", "/admin/teams/alpha", {"name": "beta"})
    assert status == 400 and error["error"]["param"] == "name", error
    assert _admin(gateway, "GET", "/admin/teams/alpha")[0] == 404


def test_two_keys_of_a_team_share_its_requests_per_minute(gateway: int) -> None:
    port = gateway
    assert _admin(port, "POST", "/admin/teams", {"name": "squad", "limits": {"rpm": 5}})[0] == 201
    first = _new_key(port, "squad-1", team="squad")
    second = _new_key(port, "squad-2", team="squad")
    outsider = _new_key(port, "outsider")
    assert _admin(port, "GET", "/admin/teams/squad")[1]["keys"] == 2
    _fresh_minute(5)
    results = [_chat(port, key["key"]) for key in (first, second) * 5]
    statuses = [status for status, _, _ in results]
    assert statuses == [200] * 5 + [429] * 5, statuses
    for _, body, headers in results[5:]:
        assert body["error"]["code"] == "rate_limit_exceeded" and body["error"]["type"] == "rate_limit_error"
        assert "team `squad`" in body["error"]["message"], body
        assert 1 <= int(headers["retry-after"]) <= 60
    assert _chat(port, outsider["key"])[0] == 200


def test_a_team_budget_is_spent_by_all_its_keys_and_shown_in_its_status(gateway: int) -> None:
    port = gateway
    budget = 0.0001
    status, team = _admin(port, "POST", "/admin/teams",
                          {"name": "thrifty", "budget": {"usd": budget, "period": "total"}})
    assert status == 201 and team["budget_status"]["window"] == "total", team
    keys = [_new_key(port, f"thrifty-{i}", team="thrifty") for i in range(2)]
    costs: list[float] = []
    for index in range(200):
        status, body, _ = _chat(port, keys[index % 2]["key"])
        if status != 200:
            break
        costs.append(body["usage"]["cost"])
    else:
        pytest.fail("the team budget never ran out")
    assert status == 429 and body["error"]["code"] == "budget_exceeded", body
    assert "team `thrifty`" in body["error"]["message"]
    assert len(costs) >= 2 and sum(costs) <= budget
    assert sum(costs) + _estimate_in(body["error"]["message"]) + 5e-7 > budget
    # The other key of the team is refused as well.
    assert _chat(port, keys[(index + 1) % 2]["key"])[1]["error"]["code"] == "budget_exceeded"

    def spent_is_shown() -> dict:
        _, shown = _admin(port, "GET", "/admin/teams/thrifty")
        assert abs(shown["budget_status"]["spent_usd"] - sum(costs)) < 1e-9, (shown, sum(costs))
        return shown
    shown = _eventually(spent_is_shown)
    assert abs(shown["budget_status"]["remaining_usd"] - (budget - sum(costs))) < 1e-9
    assert shown["keys"] == 2


@needs_postgres
def test_budgets_are_kept_in_postgres_without_secrets(database: str) -> None:  # noqa: F811
    with running_gateway(CONFIG.replace("{store}", database)) as (_, port, _):
        created = _new_key(port, "pg-capped", budget={"usd": 0.5, "period": "daily"}, limits={"rpm": 10})
        assert _admin(port, "POST", "/admin/teams", {"name": "pg-team", "budget": {"usd": 2}})[0] == 201
        assert _chat(port, created["key"])[0] == 200
    rows = _psql(database, "SELECT data FROM virtual_keys").splitlines()
    assert rows and all(created["key"] not in row and created["key"][-43:] not in row for row in rows)
    stored = json.loads(next(row for row in rows if created["id"] in row))
    assert stored["budget"] == {"usd": 0.5, "period": "daily"} and stored["limits"] == {"rpm": 10}
    assert json.loads(_psql(database, "SELECT data FROM teams WHERE name = 'pg-team'"))["policy"]["budget"] \
        == {"usd": 2, "period": "monthly"}


def _fire(pool: ThreadPoolExecutor, ports: list[int], key: str, count: int,
          start: int = 0) -> list[tuple[int, int, dict]]:
    """``count`` calls spread over the pool, alternating between the instances: (port, status, body)."""
    def one(index: int) -> tuple[int, int, dict]:
        port = ports[index % len(ports)]
        status, body, _ = _chat(port, key)
        return port, status, body
    return list(pool.map(one, range(start, start + count)))


@contextlib.contextmanager
def _webhook() -> Iterator[tuple[str, list[tuple[dict, str]]]]:
    """A loopback webhook receiver: its URL and the (JSON body, x-token header) of every POST."""
    received: list[tuple[dict, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((json.loads(body), self.headers.get("x-token", "")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    finally:
        server.shutdown()
        server.server_close()


def test_budget_alerts_reach_the_webhook_once_per_threshold(tmp_path: Any) -> None:
    with _webhook() as (url, received):
        config = CONFIG.replace("{store}", f"sqlite:{tmp_path / 'alerts.db'}") \
            + f"alerts: {{{{webhook: \"{url}\", headers: {{{{X-Token: t0k3n}}}}}}}}\n"
        with running_gateway(config) as (_, port, _):
            key = _new_key(port, "alerted", budget={"usd": 0.0001, "period": "weekly"})
            for _ in range(30):
                if _chat(port, key["key"])[0] == 429:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the budget never ran out")
            for _ in range(3):  # further refusals send nothing new
                assert _chat(port, key["key"])[0] == 429

            def all_four() -> None:
                assert sorted(alert["threshold"] for alert, _ in received) == [0.5, 0.8, 0.95, 1.0]
            _eventually(all_four, seconds=6)
            time.sleep(1.5)
    assert len(received) == 4
    for alert, token in received:
        assert token == "t0k3n"
        assert alert["type"] == "budget_threshold" and alert["owner"] == "key" and alert["id"] == key["id"]
        assert alert["budget_usd"] == 0.0001 and alert["window"].startswith("w")
        assert alert["spent_usd"] >= alert["threshold"] * 0.0001 or alert["exhausted"]
    assert [alert["exhausted"] for alert, _ in received if alert["threshold"] == 1.0] == [True]


@needs_postgres
def test_two_instances_share_limits_and_budgets_through_postgres(database: str) -> None:  # noqa: F811
    budget = 0.0005
    with _webhook() as (url, alerts), \
            running_gateway(CONFIG.replace("{store}", database) + f"alerts: {{{{webhook: \"{url}\"}}}}\n") \
            as (_, first, _), \
            running_gateway(CONFIG.replace("{store}", database) + f"alerts: {{{{webhook: \"{url}\"}}}}\n") \
            as (_, second, _):
        ports = [first, second]
        rpm_key = _new_key(first, "shared-rpm", limits={"rpm": 20})
        budget_key = _new_key(first, "shared-budget", budget={"usd": budget, "period": "daily"})

        def known_to_the_second() -> None:  # the other instance reloads keys every 2 s
            for key in (rpm_key, budget_key):
                assert _admin(second, "GET", f"/admin/keys/{key['id']}")[0] == 200
        _eventually(known_to_the_second, seconds=6)

        with ThreadPoolExecutor(max_workers=8) as pool:
            _fresh_minute(20)
            day = "d" + datetime.now(timezone.utc).strftime("%Y-%m-%d")
            results = _fire(pool, ports, rpm_key["key"], 40)
            granted = [r for r in results if r[1] == 200]
            refused = [r for r in results if r[1] != 200]
            assert 18 <= len(granted) <= 20, [r[1] for r in results]
            assert all(status == 429 and body["error"]["code"] == "rate_limit_exceeded" for _, status, body in refused)
            assert {port for port, _, _ in granted} == {first, second}

            spent: list[float] = []
            refused_on: set[int] = set()
            estimates: list[float] = []
            calls = 0
            while refused_on != {first, second}:
                assert calls < 400, f"{calls} calls and budget refusals only from {refused_on}; spent {sum(spent)}"
                for port, status, body in _fire(pool, ports, budget_key["key"], 16, start=calls):
                    if status == 200:
                        spent.append(body["usage"]["cost"])
                    else:
                        assert status == 429 and body["error"]["code"] == "budget_exceeded", body
                        assert body["error"]["type"] == "insufficient_quota"
                        estimates.append(_estimate_in(body["error"]["message"]))
                        refused_on.add(port)
                calls += 16
        assert len(spent) >= 2
        # Each call reserved an upper estimate of its cost, so no instance's calls pass the budget at all.
        assert sum(spent) <= budget + 1e-12, (sum(spent), budget)
        # Nor is much left unspent: at a refusal the other instance holds at most 1/20 of the budget beyond
        # its calls' reservations, and each of the 8 calls in flight reserved at most one estimate.
        assert sum(spent) >= budget - budget / 20 - 8 * max(estimates), (sum(spent), budget, max(estimates))
        time.sleep(3)  # each instance reports its spend every second
        rows = [line.split("|") for line in _psql(
            database, f"SELECT quota, quota_window, spent FROM quota_usage WHERE quota LIKE 'key:{budget_key['id']}:%'"
        ).splitlines()]
        assert [(quota, window) for quota, window, _ in rows] == [(f"key:{budget_key['id']}:usd", day)], rows
        assert abs(float(rows[0][2]) - sum(spent)) < 1e-9, (rows, sum(spent))
        requests = _psql(database, f"SELECT spent FROM quota_usage WHERE quota = 'key:{rpm_key['id']}:rpm'").split()
        assert [float(value) for value in requests] == [len(granted)], requests
        # Both instances saw the budget cross every threshold; each alert was sent once.
        thresholds = sorted(alert["threshold"] for alert, _ in alerts if alert["id"] == budget_key["id"])
        assert thresholds == [0.5, 0.8, 0.95, 1.0], alerts


ROUTE_LIMITS = f"""\
listen: 127.0.0.1:{{port}}
master_key: {MASTER_KEY}
store: "{{store}}"
providers:
  first: {{{{type: simulator, ttft: 0ms, tokens_per_second: 100000}}}}
  second: {{{{type: simulator, ttft: 0ms, tokens_per_second: 100000}}}}
models:
  limited:
    routes:
      - {{{{provider: first, model: gpt-4o-mini, limits: {{{{rpm: 3}}}}}}}}
      - {{{{provider: second, model: gpt-4o-mini}}}}
  only-limited:
    routes:
      - {{{{provider: first, model: gpt-4o, limits: {{{{rpm: 2}}}}}}}}
"""


def test_a_route_at_its_rate_limit_is_skipped_and_the_last_one_answers_429(tmp_path: Any) -> None:
    _fresh_minute(5)
    with running_gateway(ROUTE_LIMITS.replace("{store}", f"sqlite:{tmp_path / 'routes.db'}")) as (_, port, _):
        providers = []
        for _ in range(5):
            status, body, headers = _request(port, "POST", "/v1/chat/completions", {
                "model": "limited", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
            assert status == 200, body
            providers.append(headers["x-switchyard-provider"])
            reason = headers["x-switchyard-route-reason"]
        assert providers == ["first", "first", "first", "second", "second"]
        assert "first/gpt-4o-mini:rate-limited" in reason
        for expected in (200, 200, 429):
            status, body, headers = _request(port, "POST", "/v1/chat/completions", {
                "model": "only-limited", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
            assert status == expected, body
        assert body["error"]["code"] == "rate_limit_exceeded" and "first/gpt-4o" in body["error"]["message"]
        assert 1 <= int(headers["retry-after"]) <= 60


KEY_PROVIDER_LIMITS = ROUTE_LIMITS + """\
  either:
    routes:
      - {{provider: first, model: gpt-4o-mini}}
      - {{provider: second, model: gpt-4o-mini}}
"""


def test_a_key_limited_on_one_provider_moves_to_the_next(tmp_path: Any) -> None:
    _fresh_minute(5)
    config = KEY_PROVIDER_LIMITS.replace("{store}", f"sqlite:{tmp_path / 'providers.db'}")
    with running_gateway(config) as (_, port, _):
        key = _new_key(port, "capped-on-first", limits={"providers": {"first": {"rpm": 2}}})
        assert key["limits"] == {"providers": {"first": {"rpm": 2}}}
        other = _new_key(port, "uncapped")
        served = []
        for _ in range(4):
            status, body, headers = _request(port, "POST", "/v1/chat/completions", {
                "model": "either", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}, key["key"])
            assert status == 200, body
            served.append(headers["x-switchyard-provider"])
        assert served == ["first", "first", "second", "second"]
        assert "first/gpt-4o-mini:rate-limited" in headers["x-switchyard-route-reason"]
        status, _, headers = _request(port, "POST", "/v1/chat/completions", {
            "model": "either", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}, other["key"])
        assert status == 200 and headers["x-switchyard-provider"] == "first"
        for limits, param in [({"providers": {"first": {"rpm": 0}}}, "limits.providers.first.rpm"),
                              ({"providers": {"first": {"providers": {}}}}, "limits.providers.first"),
                              ({"providers": ["first"]}, "limits.providers")]:
            status, error = _admin(port, "POST", "/admin/keys", {"name": "bad", "limits": limits})
            assert status == 400 and error["error"]["param"] == param, (limits, error)


def test_a_keys_budget_and_limits_change_in_place(gateway: int) -> None:
    port = gateway
    _fresh_minute(5)
    key = _new_key(port, "patched", limits={"rpm": 2}, budget={"usd": 5, "period": "daily"})
    assert [_chat(port, key["key"])[0] for _ in range(3)] == [200, 200, 429]
    status, updated = _admin(port, "PATCH", f"/admin/keys/{key['id']}", {"limits": {"rpm": 4}, "budget": None,
                                                                         "metadata": {"owner": "ana"}})
    assert status == 200, updated
    assert updated["limits"] == {"rpm": 4} and "budget" not in updated and updated["metadata"] == {"owner": "ana"}
    assert updated["name"] == "patched" and updated["role"] == "client"
    assert [_chat(port, key["key"])[0] for _ in range(3)] == [200, 200, 429]
    # The secret is unchanged, and the change is audited with what changed.
    status, audit = _admin(port, "GET", "/admin/audit?limit=20")
    entry = next(e for e in audit["data"] if e["action"] == "key.update" and e["target"] == key["id"])
    assert entry["detail"] == {"changed": "metadata,budget,limits"}
    for body, param in [({"role": "admin"}, "role"), ({"colour": "red"}, "colour"),
                        ({"limits": {"rpm": 0}}, "limits.rpm"), ({"name": ""}, "name")]:
        status, error = _admin(port, "PATCH", f"/admin/keys/{key['id']}", body)
        assert status == 400 and error["error"]["param"] == param, (body, error)
    assert _admin(port, "PATCH", "/admin/keys/key_0000000000000000", {"name": "x"})[0] == 404
    viewer = _new_key(port, "patch-viewer", role="viewer")
    assert _admin(port, "PATCH", f"/admin/keys/{key['id']}", {"name": "y"}, key=viewer["key"])[0] == 403
