"""Routing and resilience end to end: the real gateway binary against scripted OpenAI-compatible fakes.

Every upstream is a ``FaultyOpenAI`` (see ``fake_providers.py``) on loopback, one per provider name, so
``x-switchyard-provider`` names the fake that answered and each fake's request log counts the upstream
attempts it received. The tests cover what docs/routing.md promises: the failure table of the retry
loop (retries, fallback, streams that fail before and after their first event), per-request provider
preferences, cooldown, API key rotation, strategies, live statistics, shadow traffic and hedging.

Two gateways are started per module: one for almost everything (two attempts per route), and one
with a single attempt per route for the cooldown test.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

import openai
import pytest

from fake_providers import Fault, FaultyOpenAI
from test_operations import running_gateway

MASTER_KEY = "sk-routing-master-0123456789"
UPSTREAM_MODEL = "gpt-4o-mini"

# One fake per provider name of the main gateway, grouped by the test that uses them.
MAIN_FAKES = [
    "alpha", "beta",                  # the fault matrix: route A, route B
    "first", "second",                # per-request preferences
    "keyed",                          # API key rotation
    "w-a", "w-b", "rr-a", "rr-b", "c-a", "c-b",  # strategies
    "obs-a", "obs-b",                 # live statistics
    "sh-main", "sh-cand",             # shadow traffic
    "slow", "fast",                   # hedging
]
COOLDOWN_FAKES = ["cool-a", "cool-b"]

MATRIX_TIMEOUTS = "{connect: 1s, first_token: 500ms, idle: 500ms, total: 20s}"

MAIN_MODELS = f"""\
models:
  matrix:
    strategy: fallback
    routes:
      - {{provider: alpha, model: {UPSTREAM_MODEL}}}
      - {{provider: beta, model: {UPSTREAM_MODEL}}}
    timeouts: {MATRIX_TIMEOUTS}
    cooldown: off
  matrix-refused:
    strategy: fallback
    routes:
      - {{provider: dead, model: {UPSTREAM_MODEL}}}
      - {{provider: beta, model: {UPSTREAM_MODEL}}}
    timeouts: {MATRIX_TIMEOUTS}
    cooldown: off
  preferences:
    routes:
      - {{provider: first, model: {UPSTREAM_MODEL}}}
      - {{provider: second, model: {UPSTREAM_MODEL}}}
    cooldown: off
  rotation:
    routes:
      - {{provider: keyed, model: {UPSTREAM_MODEL}}}
  weighted:
    strategy: weighted
    routes:
      - {{provider: w-a, model: {UPSTREAM_MODEL}, weight: 1}}
      - {{provider: w-b, model: {UPSTREAM_MODEL}, weight: 0}}
  rotating:
    strategy: round-robin
    routes:
      - {{provider: rr-a, model: {UPSTREAM_MODEL}}}
      - {{provider: rr-b, model: {UPSTREAM_MODEL}}}
  tiered:
    strategy: conditional
    routes:
      - {{provider: c-a, model: {UPSTREAM_MODEL}}}
      - {{provider: c-b, model: {UPSTREAM_MODEL}}}
    rules:
      - when: {{header: {{x-tier: batch}}}}
        providers: [c-b]
  observed:
    routes:
      - {{provider: obs-a, model: {UPSTREAM_MODEL}}}
      - {{provider: obs-b, model: {UPSTREAM_MODEL}}}
    cooldown: off
  shadowed:
    routes:
      - {{provider: sh-main, model: {UPSTREAM_MODEL}}}
    shadow: {{model: candidate, share: 1}}
  candidate:
    routes:
      - {{provider: sh-cand, model: {UPSTREAM_MODEL}}}
  hedged:
    routes:
      - {{provider: slow, model: {UPSTREAM_MODEL}}}
      - {{provider: fast, model: {UPSTREAM_MODEL}}}
    # Wide enough that an unhurried answer on a loaded machine is not hedged by accident.
    hedge: {{after: 400ms}}
    timeouts: {{connect: 1s, first_token: 5s, idle: 5s, total: 20s}}
    cooldown: off
"""

COOLDOWN_MODELS = f"""\
models:
  cooling:
    strategy: fallback
    routes:
      - {{provider: cool-a, model: {UPSTREAM_MODEL}}}
      - {{provider: cool-b, model: {UPSTREAM_MODEL}}}
    cooldown: {{failures: 2, window: 30s, duration: 2s, share: 0}}
"""


def _gateway_config(fakes: dict[str, FaultyOpenAI], models: str, *, attempts: int,
                    extra_providers: dict[str, str] | None = None,
                    provider_keys: dict[str, str] | None = None) -> str:
    """A config for ``running_gateway``: literal braces doubled, ``{port}`` left for it to fill in."""
    lines = [
        "listen: 127.0.0.1:@PORT@",
        f"master_key: {MASTER_KEY}",
        "store: memory",
        # A budget of 1: the matrix retries the same provider in many calls back to back, and each
        # case must get its retry (the default 20% allows only 10 retries per 10 to 20 seconds).
        f"retries: {{attempts: {attempts}, initial_backoff: 10ms, max_backoff: 1s, budget: 1}}",
        "providers:",
    ]
    for name, fake in fakes.items():
        keys = (provider_keys or {}).get(name, "api_key: none")
        lines.append(f"  {name}: {{type: openai, base_url: '{fake.url}/v1', {keys}}}")
    for name, url in (extra_providers or {}).items():
        lines.append(f"  {name}: {{type: openai, base_url: '{url}', api_key: none}}")
    text = "\n".join(lines) + "\n" + models
    return text.replace("{", "{{").replace("}", "}}").replace("@PORT@", "{port}")


# Fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, FaultyOpenAI]]:
    servers = {name: FaultyOpenAI() for name in MAIN_FAKES + COOLDOWN_FAKES}
    yield servers
    # Each shutdown waits for its server's poll interval: close them side by side.
    closing = [threading.Thread(target=server.close) for server in servers.values()]
    for thread in closing:
        thread.start()
    for thread in closing:
        thread.join()


@pytest.fixture(autouse=True)
def _fresh_fakes(fakes: dict[str, FaultyOpenAI]) -> None:
    for fake in fakes.values():
        fake.reset()


@pytest.fixture(scope="module")
def refused_url() -> Iterator[str]:
    """An address that refuses connections: a port bound (so nobody else takes it) but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@pytest.fixture(scope="module")
def port(fakes: dict[str, FaultyOpenAI], refused_url: str) -> Iterator[int]:
    config = _gateway_config(
        {name: fakes[name] for name in MAIN_FAKES}, MAIN_MODELS, attempts=2,
        extra_providers={"dead": refused_url},
        provider_keys={"keyed": "api_keys: [k1, k2]"},
    )
    with running_gateway(config) as (_, gateway_port, _dir):
        yield gateway_port


@pytest.fixture(scope="module")
def cooldown_port(fakes: dict[str, FaultyOpenAI]) -> Iterator[int]:
    config = _gateway_config({name: fakes[name] for name in COOLDOWN_FAKES}, COOLDOWN_MODELS, attempts=1)
    with running_gateway(config) as (_, gateway_port, _dir):
        yield gateway_port


@pytest.fixture(scope="module")
def client(port: int) -> openai.OpenAI:
    # No SDK retries: every upstream attempt counted here is the gateway's.
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=MASTER_KEY, max_retries=0, timeout=20)


# Raw HTTP helpers -----------------------------------------------------------------------------------


@dataclass
class Answer:
    """One gateway response, read to its end."""

    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def events(self) -> list[str]:
        """The ``data:`` payloads of an SSE body, in order."""
        return [line[len("data: "):] for block in self.body.decode().split("\n\n")
                for line in block.split("\n") if line.startswith("data: ")]

    @property
    def streamed_text(self) -> str:
        """The assistant text of an SSE body's chunks."""
        text = ""
        for data in self.events:
            if data == "[DONE]":
                continue
            chunk = json.loads(data)
            for choice in chunk.get("choices", []):
                text += choice.get("delta", {}).get("content") or ""
        return text


def _chat(port: int, model: str, content: str, *, stream: bool = False) -> Answer:
    """One chat call with the master key, over a connection of its own, read to its end."""
    payload: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        payload["stream"] = True
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        started = time.monotonic()
        connection.request("POST", "/v1/chat/completions", body=json.dumps(payload), headers={
            "content-type": "application/json", "authorization": f"Bearer {MASTER_KEY}"})
        response = connection.getresponse()
        body = response.read()
        elapsed = time.monotonic() - started
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body, elapsed)
    finally:
        connection.close()


def _admin(port: int, path: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"authorization": f"Bearer {MASTER_KEY}"})
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200, body
        return json.loads(body)
    finally:
        connection.close()


def _route(provider: str) -> str:
    return f"{provider}/{UPSTREAM_MODEL}"


def _calls(fakes: dict[str, FaultyOpenAI], *names: str) -> tuple[int, ...]:
    return tuple(len(fakes[name].requests) for name in names)


# The fault matrix -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One fault on route A (``alpha``, or ``dead`` for ``matrix-refused``) and what the caller must see."""

    id: str
    stream: bool
    answered_by: str
    attempts: int
    calls: tuple[int, int]          # requests received by alpha and beta
    faults: tuple[Fault, ...] = ()  # scripted on alpha, one per request
    down: bool = False              # alpha answers every request with a 500
    model: str = "matrix"
    broken: str | None = None       # the stream broke after its first event: the error event's code
    partial: str | None = None      # the text the caller received before the break
    fast: bool = False              # the call must not wait for Retry-After
    waits: float = 0.0              # the call must wait at least this long (a Retry-After honoured)


CASES = [
    *(Case(f"429-retry-after-0-{mode}", stream, "alpha", 2, (2, 0), faults=(Fault.rate_limit("0"),))
      for mode, stream in (("complete", False), ("stream", True))),
    Case("429-retry-after-1-is-honoured", False, "alpha", 2, (2, 0), faults=(Fault.rate_limit("1"),), waits=0.9),
    Case("429-retry-after-beyond-max-backoff", False, "beta", 2, (1, 1),
         faults=(Fault.rate_limit("30"),), fast=True),
    *(Case(f"500-once-{mode}", stream, "alpha", 2, (2, 0), faults=(Fault.server_error(),))
      for mode, stream in (("complete", False), ("stream", True))),
    *(Case(f"connection-refused-{mode}", stream, "beta", 3, (0, 1), model="matrix-refused")
      for mode, stream in (("complete", False), ("stream", True))),
    *(Case(f"no-response-head-within-first-token-{mode}", stream, "alpha", 2, (2, 0), faults=(Fault.delay(1.2),))
      for mode, stream in (("complete", False), ("stream", True))),
    Case("stall-before-first-event", True, "alpha", 2, (2, 0), faults=(Fault.stall(1.5, after=0),)),
    Case("broken-before-first-event", True, "alpha", 2, (2, 0), faults=(Fault.broken_stream(after=0),)),
    Case("ends-before-first-event", True, "alpha", 2, (2, 0), faults=(Fault.empty_stream(),)),
    Case("stall-after-first-event", True, "alpha", 1, (1, 0), faults=(Fault.stall(1.5),),
         broken="upstream_timeout", partial="Echo: "),
    Case("broken-after-first-events", True, "alpha", 1, (1, 0), faults=(Fault.broken_stream(),),
         broken="upstream_failed", partial="Echo: case "),
    Case("error-as-first-event", True, "alpha", 2, (2, 0), faults=(Fault.error_event(),)),
    Case("error-as-first-event-twice", True, "beta", 3, (2, 1), faults=(Fault.error_event(), Fault.error_event())),
    Case("invalid-json", False, "beta", 2, (1, 1), faults=(Fault.invalid_json(),)),
    *(Case(f"down-for-good-{mode}", stream, "beta", 3, (2, 1), down=True)
      for mode, stream in (("complete", False), ("stream", True))),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_fault_on_route_a(case: Case, port: int, fakes: dict[str, FaultyOpenAI]) -> None:
    alpha, beta = fakes["alpha"], fakes["beta"]
    alpha.script(*case.faults)
    alpha.set_down(case.down)
    prompt = f"case {case.id}"

    answer = _chat(port, case.model, prompt, stream=case.stream)

    assert answer.status == 200, answer.body
    assert answer.headers["x-switchyard-provider"] == case.answered_by
    assert answer.headers["x-switchyard-attempts"] == str(case.attempts)
    first = "dead" if case.model == "matrix-refused" else "alpha"
    reason = answer.headers["x-switchyard-route-reason"]
    assert reason.startswith(f"strategy=fallback; order={_route(first)},{_route('beta')}"), reason
    assert _calls(fakes, "alpha", "beta") == case.calls
    assert alpha.pending_faults == 0
    assert all(request.body["model"] == UPSTREAM_MODEL for request in alpha.requests + beta.requests)
    if case.fast:
        assert answer.elapsed < 3, "a Retry-After beyond max_backoff moves on instead of waiting"
    assert answer.elapsed >= case.waits

    if not case.stream:
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json()["choices"][0]["message"]["content"] == f"Echo: {prompt}"
        return
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = answer.events
    if case.broken is None:
        assert events[-1] == "[DONE]"
        assert answer.streamed_text == f"Echo: {prompt} "
        assert not any('"error"' in data for data in events), events
        return
    # The failure came after the first event: the caller's stream ends with an error in OpenAI's shape.
    assert "[DONE]" not in events
    assert answer.streamed_text == case.partial
    error = json.loads(events[-1])
    assert set(error) == {"error"}
    assert set(error["error"]) == {"message", "type", "param", "code"}
    assert error["error"]["code"] == case.broken
    assert error["error"]["type"] == "upstream_error"
    assert error["error"]["message"]


# Failed calls and the request log ------------------------------------------------------------------


def _logged(port: int, request_id: str) -> dict[str, Any]:
    """The request log record of ``request_id`` (``/admin/logs`` includes rows still queued)."""
    records = [record for record in _admin(port, "/admin/logs?model=matrix&limit=50")["data"]
               if record["id"] == request_id]
    assert len(records) == 1, records
    return records[0]


def test_every_route_failing_is_a_502_listing_each_attempt(port: int, fakes: dict[str, FaultyOpenAI]) -> None:
    fakes["alpha"].set_down()
    fakes["beta"].set_down()
    answer = _chat(port, "matrix", "nobody home")
    assert answer.status == 502
    error = answer.json()["error"]
    assert error["code"] == "upstream_failed" and error["type"] == "upstream_error"
    assert f"{_route('alpha')}: " in error["message"] and f"{_route('beta')}: " in error["message"]
    assert "after 4 attempt(s)" in error["message"]
    reason = answer.headers["x-switchyard-route-reason"]
    assert reason.startswith(f"strategy=fallback; order={_route('alpha')},{_route('beta')}")
    assert _calls(fakes, "alpha", "beta") == (2, 2)
    record = _logged(port, answer.headers["x-switchyard-request-id"])
    assert record["status"] == 502
    assert record["route_reason"] == reason


def test_a_retried_call_logs_its_attempts(port: int, fakes: dict[str, FaultyOpenAI]) -> None:
    fakes["alpha"].script(Fault.server_error())
    answer = _chat(port, "matrix", "logged")
    assert answer.status == 200 and answer.headers["x-switchyard-attempts"] == "2"
    record = _logged(port, answer.headers["x-switchyard-request-id"])
    assert (record["status"], record["provider"], record["attempts"]) == (200, "alpha", 2)


def test_a_call_every_route_failed_logs_its_attempts(port: int, fakes: dict[str, FaultyOpenAI]) -> None:
    fakes["alpha"].set_down()
    fakes["beta"].set_down()
    answer = _chat(port, "matrix", "count them")
    assert answer.status == 502
    assert answer.headers["x-switchyard-attempts"] == "4"
    assert _calls(fakes, "alpha", "beta") == (2, 2)
    assert _logged(port, answer.headers["x-switchyard-request-id"])["attempts"] == 4


# Per-request preferences through the openai SDK -------------------------------------------------


def _ask(client: openai.OpenAI, model: str, content: str, **kwargs: Any) -> Any:
    return client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": content}], **kwargs)


def test_provider_order_puts_the_named_provider_first(client: openai.OpenAI, fakes: dict[str, FaultyOpenAI]) -> None:
    raw = _ask(client, "preferences", "second first", extra_body={"provider": {"order": ["second"]}})
    assert raw.parse().choices[0].message.content == "Echo: second first"
    assert raw.headers["x-switchyard-provider"] == "second"
    assert raw.headers["x-switchyard-attempts"] == "1"
    assert f"order={_route('second')},{_route('first')}" in raw.headers["x-switchyard-route-reason"]
    assert _calls(fakes, "first", "second") == (0, 1)
    assert "provider" not in fakes["second"].requests[0].body, "the preferences are not sent upstream"


def test_provider_ignore_skips_the_provider(client: openai.OpenAI, fakes: dict[str, FaultyOpenAI]) -> None:
    raw = _ask(client, "preferences", "not you", extra_body={"provider": {"ignore": ["first"]}})
    assert raw.parse().choices[0].message.content == "Echo: not you"
    assert raw.headers["x-switchyard-provider"] == "second"
    reason = raw.headers["x-switchyard-route-reason"]
    assert f"skipped={_route('first')}(provider.ignore)" in reason, reason
    assert _calls(fakes, "first", "second") == (0, 1)


@pytest.mark.parametrize(("preferences", "param", "named"), [
    ({"sort": "fastest"}, "provider.sort", "price, throughput, latency, tool_reliability"),
    ({"order": ["nobody"]}, "provider.order", "`nobody`"),
    ({"prefer": ["first"]}, "provider.prefer", "`provider.prefer`"),
], ids=["unknown-sort", "unknown-provider", "unknown-member"])
def test_a_bad_provider_preference_is_a_400_naming_it(preferences: dict[str, Any], param: str, named: str,
                                                      client: openai.OpenAI, fakes: dict[str, FaultyOpenAI]) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        _ask(client, "preferences", "sorted?", extra_body={"provider": preferences})
    assert caught.value.status_code == 400
    body = caught.value.body
    assert isinstance(body, dict) and body["param"] == param, body
    assert body["type"] == "invalid_request_error"
    assert named in body["message"], body["message"]
    assert _calls(fakes, "first", "second") == (0, 0)


def test_no_fallbacks_with_the_first_route_down_is_a_502(client: openai.OpenAI,
                                                         fakes: dict[str, FaultyOpenAI]) -> None:
    fakes["first"].set_down()
    with pytest.raises(openai.InternalServerError) as caught:
        _ask(client, "preferences", "alone", extra_body={"provider": {"allow_fallbacks": False}})
    assert caught.value.status_code == 502
    assert caught.value.response.json()["error"]["code"] == "upstream_failed"
    reason = caught.value.response.headers["x-switchyard-route-reason"]
    assert f"skipped={_route('second')}(provider.allow_fallbacks=false)" in reason, reason
    assert _calls(fakes, "first", "second") == (2, 0)


# Cooldown --------------------------------------------------------------------------------------------


def test_a_failing_route_cools_down_then_is_probed(cooldown_port: int, fakes: dict[str, FaultyOpenAI]) -> None:
    cool_a = fakes["cool-a"]
    cool_a.set_down()
    plain = f"strategy=fallback; order={_route('cool-a')},{_route('cool-b')}"
    cooling = f"strategy=fallback; order={_route('cool-b')},{_route('cool-a')}(cooldown)"

    for number in (1, 2):
        answer = _chat(cooldown_port, "cooling", f"failure {number}")
        assert answer.status == 200
        assert answer.headers["x-switchyard-provider"] == "cool-b"
        assert answer.headers["x-switchyard-attempts"] == "2"
        assert answer.headers["x-switchyard-route-reason"].startswith(plain)
    assert _calls(fakes, "cool-a", "cool-b") == (2, 2)

    # Two failures within the window: cool-a is skipped, tried only as a last resort.
    answer = _chat(cooldown_port, "cooling", "cooling down")
    assert answer.status == 200
    assert answer.headers["x-switchyard-provider"] == "cool-b"
    assert answer.headers["x-switchyard-attempts"] == "1"
    assert answer.headers["x-switchyard-route-reason"].startswith(cooling), answer.headers
    assert _calls(fakes, "cool-a", "cool-b") == (2, 3)
    stats = {entry["route"]: entry for entry in _admin(cooldown_port, "/admin/stats")["data"]}
    assert stats[_route("cool-a")]["cooldown"] == "open"

    # After the duration one call probes it; the probe fails, so it cools down again.
    time.sleep(2.5)
    answer = _chat(cooldown_port, "cooling", "probe")
    assert answer.headers["x-switchyard-provider"] == "cool-b"
    assert answer.headers["x-switchyard-attempts"] == "2"
    assert answer.headers["x-switchyard-route-reason"].startswith(plain)
    assert _calls(fakes, "cool-a", "cool-b") == (3, 4)
    answer = _chat(cooldown_port, "cooling", "cooling again")
    assert answer.headers["x-switchyard-route-reason"].startswith(cooling)
    assert _calls(fakes, "cool-a", "cool-b") == (3, 5)

    # Recovered: the next probe succeeds and closes the breaker.
    cool_a.set_down(False)
    time.sleep(2.5)
    for content in ("recovered probe", "recovered"):
        answer = _chat(cooldown_port, "cooling", content)
        assert answer.headers["x-switchyard-provider"] == "cool-a"
        assert answer.headers["x-switchyard-attempts"] == "1"
        assert answer.headers["x-switchyard-route-reason"].startswith(plain)
    assert _calls(fakes, "cool-a", "cool-b") == (5, 5)
    stats = {entry["route"]: entry for entry in _admin(cooldown_port, "/admin/stats")["data"]}
    assert stats[_route("cool-a")]["cooldown"] == "closed"


# Key rotation ----------------------------------------------------------------------------------------


def test_a_rate_limited_key_moves_to_the_next_key_at_once(client: openai.OpenAI,
                                                          fakes: dict[str, FaultyOpenAI]) -> None:
    keyed = fakes["keyed"]
    keyed.rate_limited_keys = {"k1"}
    raw = _ask(client, "rotation", "rotate")
    assert raw.parse().choices[0].message.content == "Echo: rotate"
    assert raw.headers["x-switchyard-provider"] == "keyed"
    assert raw.headers["x-switchyard-attempts"] == "2"
    assert [request.headers.get("authorization") for request in keyed.requests] == ["Bearer k1", "Bearer k2"]
    # The caller's own key never goes upstream.
    assert all(MASTER_KEY not in json.dumps(request.headers) for request in keyed.requests)


# Strategies ------------------------------------------------------------------------------------------


def test_weighted_never_puts_a_zero_weight_route_first(port: int, fakes: dict[str, FaultyOpenAI]) -> None:
    providers = [_chat(port, "weighted", f"draw {n}").headers["x-switchyard-provider"] for n in range(20)]
    assert providers == ["w-a"] * 20
    assert _calls(fakes, "w-a", "w-b") == (20, 0)


def test_weighted_falls_back_to_the_zero_weight_route(port: int, fakes: dict[str, FaultyOpenAI]) -> None:
    fakes["w-a"].set_down()
    answer = _chat(port, "weighted", "heavy one down")
    assert answer.status == 200
    assert answer.headers["x-switchyard-provider"] == "w-b"
    assert answer.headers["x-switchyard-route-reason"].startswith(
        f"strategy=weighted; order={_route('w-a')},{_route('w-b')}")


def test_round_robin_alternates(port: int, fakes: dict[str, FaultyOpenAI]) -> None:
    answers = [_chat(port, "rotating", f"turn {n}") for n in range(4)]
    assert [answer.headers["x-switchyard-provider"] for answer in answers] == ["rr-a", "rr-b", "rr-a", "rr-b"]
    assert all(answer.headers["x-switchyard-route-reason"].startswith("strategy=round-robin") for answer in answers)
    assert _calls(fakes, "rr-a", "rr-b") == (2, 2)


def test_conditional_routes_by_header(client: openai.OpenAI, fakes: dict[str, FaultyOpenAI]) -> None:
    batch = _ask(client, "tiered", "batch job", extra_headers={"x-tier": "batch"})
    assert batch.headers["x-switchyard-provider"] == "c-b"
    reason = batch.headers["x-switchyard-route-reason"]
    assert reason.startswith(f"strategy=conditional; order={_route('c-b')};"), reason
    assert f"{_route('c-a')}(no rule selects it)" in reason
    interactive = _ask(client, "tiered", "interactive", extra_headers={"x-tier": "interactive"})
    assert interactive.headers["x-switchyard-provider"] == "c-a"
    plain = _ask(client, "tiered", "no header")
    assert plain.headers["x-switchyard-provider"] == "c-a"
    assert plain.headers["x-switchyard-route-reason"].startswith(
        f"strategy=conditional; order={_route('c-a')},{_route('c-b')}")
    assert _calls(fakes, "c-a", "c-b") == (2, 1)


# Live statistics ---------------------------------------------------------------------------------------


def test_admin_stats_and_the_model_entry_report_the_route(port: int, fakes: dict[str, FaultyOpenAI]) -> None:
    fakes["obs-a"].script(Fault.server_error())
    for n, stream in enumerate((False, True, False)):
        answer = _chat(port, "observed", f"measure {n}", stream=stream)
        assert answer.status == 200 and answer.headers["x-switchyard-provider"] == "obs-a"
    assert _calls(fakes, "obs-a", "obs-b") == (4, 0)

    stats = _admin(port, "/admin/stats")
    assert stats["object"] == "list"
    assert stats["windows"] == ["5m", "30m", "1d"]
    routes = {entry["route"]: entry for entry in stats["data"]}
    observed = routes[_route("obs-a")]
    assert observed["cooldown"] == "closed" and observed["in_flight"] == 0
    assert [window["window"] for window in observed["windows"]] == ["5m", "30m", "1d"]
    for window in observed["windows"]:
        # One 500 and three answers, the stream's counted at its end.
        assert (window["calls"], window["successes"]) == (4, 3), window
        assert window["success_rate"] == pytest.approx(0.75)
        assert window["ttft_ms"]["p50"] > 0
    if _route("obs-b") in routes:
        assert all(window["calls"] == 0 for window in routes[_route("obs-b")]["windows"])

    entry = _admin(port, "/v1/models/observed")
    assert entry["id"] == "observed"
    assert entry["strategy"] == "fallback"
    assert [route["provider"] for route in entry["routes"]] == ["obs-a", "obs-b"]
    summary = entry["routes"][0]["stats"]
    assert summary["route"] == _route("obs-a")
    assert summary["windows"][0]["window"] == "5m" and summary["windows"][0]["calls"] == 4
    assert summary["windows"][0]["ttft_ms"]["p50"] > 0


# Shadow traffic -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_shadow_traffic_is_compared_after_the_answer(stream: bool, port: int, client: openai.OpenAI,
                                                     fakes: dict[str, FaultyOpenAI]) -> None:
    prompt = f"mirror me {'streamed' if stream else 'complete'}"
    if stream:
        answer = _chat(port, "shadowed", prompt, stream=True)
        assert answer.status == 200 and answer.streamed_text == f"Echo: {prompt} "
        headers = answer.headers
    else:
        raw = _ask(client, "shadowed", prompt)
        assert raw.parse().choices[0].message.content == f"Echo: {prompt}"
        headers = raw.headers
    assert headers["x-switchyard-provider"] == "sh-main"
    assert headers["x-switchyard-attempts"] == "1"
    request_id = headers["x-switchyard-request-id"]

    deadline = time.monotonic() + 3
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        records = [record for record in _admin(port, "/admin/shadow?model=shadowed")["data"]
                   if record["request_id"] == request_id]
        if records:
            break
        time.sleep(0.05)
    assert len(records) == 1, records
    record = records[0]
    assert record["model"] == "shadowed"
    assert record["primary"]["route"] == _route("sh-main") and record["primary"]["status"] == 200
    assert record["shadow"]["model"] == "candidate"
    assert record["shadow"]["route"] == _route("sh-cand") and record["shadow"]["status"] == 200
    assert record["primary"]["output"].strip() == f"Echo: {prompt}"
    assert record["shadow"]["output"] == f"Echo: {prompt}"
    assert _calls(fakes, "sh-main", "sh-cand") == (1, 1)
    mirrored = fakes["sh-cand"].requests[0].body
    assert mirrored["messages"] == [{"role": "user", "content": prompt}]
    assert not mirrored.get("stream"), "the mirror runs without a stream"


# Hedging -----------------------------------------------------------------------------------------------------


def test_a_slow_first_route_is_hedged(client: openai.OpenAI, fakes: dict[str, FaultyOpenAI]) -> None:
    fakes["slow"].script(Fault.delay(1.5))
    started = time.monotonic()
    raw = _ask(client, "hedged", "hurry")
    elapsed = time.monotonic() - started
    assert raw.parse().choices[0].message.content == "Echo: hurry"
    assert elapsed < 1.0, elapsed
    assert raw.headers["x-switchyard-provider"] == "fast"
    assert raw.headers["x-switchyard-attempts"] == "2"
    reason = raw.headers["x-switchyard-route-reason"]
    assert f"hedged={_route('fast')}@400ms" in reason, reason
    assert _calls(fakes, "slow", "fast") == (1, 1)

    # A first route that answers within the delay is not hedged.
    raw = _ask(client, "hedged", "no hurry")
    assert raw.headers["x-switchyard-provider"] == "slow", raw.headers["x-switchyard-route-reason"]
    assert raw.headers["x-switchyard-attempts"] == "1"
    assert "hedged=" not in raw.headers["x-switchyard-route-reason"]
    assert _calls(fakes, "slow", "fast") == (2, 1)


def test_a_first_route_failing_before_the_hedge_delay_falls_back_at_once(
        client: openai.OpenAI, fakes: dict[str, FaultyOpenAI]) -> None:
    fakes["slow"].script(Fault.server_error())
    raw = _ask(client, "hedged", "fail fast")
    assert raw.parse().choices[0].message.content == "Echo: fail fast"
    assert raw.headers["x-switchyard-provider"] == "fast"
    # The route the race tried is not retried: one attempt each.
    assert raw.headers["x-switchyard-attempts"] == "2"
    assert "hedged=" not in raw.headers["x-switchyard-route-reason"]
    assert _calls(fakes, "slow", "fast") == (1, 1)


def test_a_hedged_stream_is_answered_by_the_first_event(port: int, fakes: dict[str, FaultyOpenAI]) -> None:
    fakes["slow"].script(Fault.delay(1.5))
    answer = _chat(port, "hedged", "stream hurry", stream=True)
    assert answer.status == 200 and answer.elapsed < 1.0, answer.elapsed
    assert answer.streamed_text == "Echo: stream hurry " and answer.events[-1] == "[DONE]"
    assert answer.headers["x-switchyard-provider"] == "fast"
    assert answer.headers["x-switchyard-attempts"] == "2"
    assert f"hedged={_route('fast')}@400ms" in answer.headers["x-switchyard-route-reason"]
    assert _calls(fakes, "slow", "fast") == (1, 1)


def test_a_failed_hedge_leaves_the_answer_to_the_first_route(port: int, fakes: dict[str, FaultyOpenAI]) -> None:
    fakes["slow"].script(Fault.delay(0.9))
    fakes["fast"].script(Fault.server_error())
    answer = _chat(port, "hedged", "patience")
    assert answer.status == 200
    assert answer.json()["choices"][0]["message"]["content"] == "Echo: patience"
    assert answer.headers["x-switchyard-provider"] == "slow"
    assert answer.headers["x-switchyard-attempts"] == "2"
    assert f"hedged={_route('fast')}@400ms" in answer.headers["x-switchyard-route-reason"]
    assert _calls(fakes, "slow", "fast") == (1, 1)
