"""End-to-end tests: the official ``openai`` Python SDK against a running Switchyard gateway.

The session fixture starts the gateway binary named by the ``SWITCHYARD_BIN`` environment variable
with a temporary config (in-memory store, master key, a fast deterministic simulator provider) on a
free loopback port, waits for ``GET /health``, and stops it by PID at the end of the session.

Run:

    SWITCHYARD_BIN=/path/to/.build/debug/switchyard python3 -m pytest -q Tests/python

Only the standard library, ``openai`` and ``pytest`` are used. The tests follow the HTTP contract in
SPEC §2 (inbound API, per-call ``x-switchyard-*`` headers, ``usage.cost``, OpenAI-shaped errors) and
§4 (config, admin logs).
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import openai
import pytest

MASTER_KEY = "sk-test-master-0123456789"
CHAT_MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"
# Catalog prices for gpt-4o-mini, USD per 1M tokens.
GPT_4O_MINI_INPUT_PRICE = 0.15
GPT_4O_MINI_OUTPUT_PRICE = 0.60

MESSAGES = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "Describe a railway switchyard in one sentence."},
]

CONFIG_TEMPLATE = """\
listen: 127.0.0.1:{port}
master_key: {master_key}
store: memory
providers:
  simulator:
    type: simulator
    ttft: 0ms
    tokens_per_second: 100000
"""

STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 10.0


# --------------------------------------------------------------------------------------------------
# Gateway process fixture
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gateway:
    """A running gateway: where to reach it and where its output goes."""

    port: int
    log_path: Path

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no log>"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _health_ok(root_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{root_url}/health", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


@pytest.fixture(scope="session")
def gateway() -> Iterator[Gateway]:
    binary = os.environ.get("SWITCHYARD_BIN")
    if not binary:
        pytest.fail("SWITCHYARD_BIN is not set: point it at the switchyard binary (e.g. .build/debug/switchyard)")
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.fail(f"SWITCHYARD_BIN={binary!r} is not an executable file")

    workdir = Path(tempfile.mkdtemp(prefix="switchyard-e2e-"))
    port = _free_port()
    config_path = workdir / "switchyard.yaml"
    config_path.write_text(CONFIG_TEMPLATE.format(port=port, master_key=MASTER_KEY))
    log_path = workdir / "gateway.log"
    gw = Gateway(port=port, log_path=log_path)

    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [binary, "serve", "--config", str(config_path), "--port", str(port)],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _health_ok(gw.root_url):
            if process.poll() is not None:
                pytest.fail(f"gateway exited with status {process.returncode} before answering /health:\n{gw.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"gateway did not answer GET /health within {STARTUP_TIMEOUT_S:.0f}s:\n{gw.log_tail()}")
            time.sleep(0.1)
        yield gw
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=SHUTDOWN_TIMEOUT_S)


@pytest.fixture(scope="session")
def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def extra(obj: Any, name: str) -> Any:
    """A field the OpenAI SDK types do not declare (``usage.cost``, ``context_window``, ...)."""
    extras = getattr(obj, "model_extra", None) or {}
    if name in extras:
        return extras[name]
    return getattr(obj, name, None)


def expected_cost(prompt_tokens: int, completion_tokens: int) -> float:
    return (prompt_tokens * GPT_4O_MINI_INPUT_PRICE + completion_tokens * GPT_4O_MINI_OUTPUT_PRICE) / 1e6


def error_object(exc: openai.APIStatusError) -> dict[str, Any]:
    """The ``error`` object of an OpenAI-shaped error body, asserting the shape on the way."""
    body = exc.response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), f"not an OpenAI error body: {body!r}"
    error = body["error"]
    assert isinstance(error.get("message"), str) and error["message"], f"error without a message: {body!r}"
    assert "type" in error, f"error without a type: {body!r}"
    return error


def stream_chunks(client: openai.OpenAI, **kwargs: Any) -> list[Any]:
    stream = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True, **kwargs)
    with stream:
        return list(stream)


def streamed_content(chunks: list[Any]) -> str:
    return "".join(
        choice.delta.content or ""
        for chunk in chunks
        for choice in chunk.choices
        if choice.index == 0
    )


# --------------------------------------------------------------------------------------------------
# Chat completions
# --------------------------------------------------------------------------------------------------


def test_chat_completion_returns_content_usage_and_catalog_priced_cost(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)

    assert response.choices, "no choices"
    content = response.choices[0].message.content
    assert isinstance(content, str) and content.strip()

    usage = response.usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0

    cost = extra(usage, "cost")
    assert isinstance(cost, float), f"usage.cost should be a float, got {cost!r}"
    assert cost > 0
    want = expected_cost(usage.prompt_tokens, usage.completion_tokens)
    assert math.isclose(cost, want, rel_tol=0, abs_tol=1e-12), f"usage.cost={cost!r}, expected {want!r}"


def test_same_request_twice_gives_same_content(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    second = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    assert first.choices[0].message.content
    assert first.choices[0].message.content == second.choices[0].message.content


def test_raw_response_carries_switchyard_metadata_headers(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model=CHAT_MODEL, messages=MESSAGES)
    headers = raw.headers

    assert headers.get("x-switchyard-request-id", "").strip()
    assert headers.get("x-switchyard-provider") == "simulator"
    assert headers.get("x-switchyard-model") == CHAT_MODEL
    assert headers.get("x-switchyard-attempts") == "1"
    assert headers.get("x-switchyard-cache") == "bypass"

    latency = headers.get("x-switchyard-latency-ms")
    assert latency is not None and re.fullmatch(r"\d+", latency), f"x-switchyard-latency-ms={latency!r}"
    assert int(latency) >= 0

    cost_header = headers.get("x-switchyard-cost-usd")
    assert cost_header is not None and re.fullmatch(r"\d+(\.\d+)?", cost_header), (
        f"x-switchyard-cost-usd must be plain decimal, got {cost_header!r}"
    )

    completion = raw.parse()
    assert isinstance(completion, openai.types.chat.ChatCompletion)
    assert completion.choices[0].message.content
    body_cost = extra(completion.usage, "cost")
    assert float(cost_header) == body_cost, f"header cost {cost_header!r} != body usage.cost {body_cost!r}"


def test_stream_without_include_usage_has_content_and_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = stream_chunks(client)

    assert chunks, "stream produced no chunks"
    assert streamed_content(chunks).strip()
    with_usage = [chunk for chunk in chunks if chunk.usage is not None]
    assert not with_usage, f"client did not ask for usage but got it: {with_usage[-1].model_dump()!r}"


def test_stream_with_include_usage_ends_with_usage_and_cost_chunk(client: openai.OpenAI) -> None:
    chunks = stream_chunks(client, stream_options={"include_usage": True})

    assert chunks, "stream produced no chunks"
    assert streamed_content(chunks).strip()
    last = chunks[-1]
    assert last.usage is not None, f"last chunk has no usage: {last.model_dump()!r}"
    assert last.choices == []
    assert last.usage.completion_tokens > 0
    cost = extra(last.usage, "cost")
    assert isinstance(cost, (int, float)) and cost > 0, f"usage.cost in last chunk: {cost!r}"
    assert math.isclose(
        cost, expected_cost(last.usage.prompt_tokens, last.usage.completion_tokens), rel_tol=0, abs_tol=1e-12
    )


def test_the_sdk_reuses_one_connection_across_streamed_calls(gateway: Gateway) -> None:
    """Streams keep their connection: the async SDK drains each stream and reuses the connection.

    (The sync SDK closes a stream's response at ``[DONE]`` without reading the end of the chunked
    body, so its HTTP client cannot reuse that connection, whatever the server does.)
    """
    import asyncio

    # The SDK's HTTP client: `httpx`, renamed `httpx2` in newer releases.
    try:
        import httpx2 as httpx
    except ImportError:
        import httpx

    connects: list[str] = []

    async def trace(event: str, info: dict) -> None:
        if event.endswith("connect_tcp.complete"):
            connects.append(event)

    async def add_trace(request: Any) -> None:
        request.extensions["trace"] = trace

    async def calls() -> None:
        async with httpx.AsyncClient(event_hooks={"request": [add_trace]}) as http:
            sdk = openai.AsyncOpenAI(
                base_url=gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30, http_client=http
            )
            for _ in range(3):
                chunks = [chunk async for chunk in await sdk.chat.completions.create(
                    model=CHAT_MODEL, messages=MESSAGES, stream=True
                )]
                assert streamed_content(chunks).strip()
            await sdk.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)

    asyncio.run(calls())
    # Streams used to force `Connection: close`, so each call after a stream opened a new connection.
    assert len(connects) == 1, f"{len(connects)} TCP connections for four calls"


def test_streamed_content_equals_non_streamed_content(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    streamed = streamed_content(stream_chunks(client))
    assert plain.choices[0].message.content
    assert streamed == plain.choices[0].message.content


def test_max_tokens_limits_completion_tokens(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, max_tokens=5)
    assert response.usage is not None
    assert 0 < response.usage.completion_tokens <= 5


def test_n_2_returns_two_choices(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, n=2)
    assert len(response.choices) == 2
    assert sorted(choice.index for choice in response.choices) == [0, 1]
    assert all(choice.message.content for choice in response.choices)


def test_required_tool_choice_returns_a_call_to_the_tool(client: openai.OpenAI) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city.",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    response = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=tools,
        tool_choice="required",
    )

    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls, f"no tool_calls: {choice.message.model_dump()!r}"
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.id
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments), dict)


# --------------------------------------------------------------------------------------------------
# Embeddings and models
# --------------------------------------------------------------------------------------------------


def test_embeddings_return_one_1536_dimension_vector_per_input(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model=EMBEDDING_MODEL, input=["a", "b"])

    assert len(response.data) == 2
    assert sorted(item.index for item in response.data) == [0, 1]
    for item in response.data:
        assert len(item.embedding) == 1536
        assert all(isinstance(value, float) for value in item.embedding)
    assert response.usage.prompt_tokens > 0


def test_models_list_and_retrieve_expose_catalog_limits(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert CHAT_MODEL in ids

    model = client.models.retrieve(CHAT_MODEL)
    assert model.id == CHAT_MODEL
    assert extra(model, "context_window") == 128000
    assert extra(model, "max_output_tokens") == 16384


# --------------------------------------------------------------------------------------------------
# Errors (OpenAI shape, SDK exception types)
# --------------------------------------------------------------------------------------------------


def test_unknown_model_raises_not_found_with_model_not_found_code(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model-xyz", messages=MESSAGES)
    assert caught.value.status_code == 404
    assert error_object(caught.value)["code"] == "model_not_found"


def test_wrong_key_raises_authentication_error(gateway: Gateway) -> None:
    intruder = openai.OpenAI(base_url=gateway.base_url, api_key="sk-wrong-key", max_retries=0, timeout=30)
    with pytest.raises(openai.AuthenticationError) as caught:
        intruder.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    assert caught.value.status_code == 401
    error_object(caught.value)


def test_max_tokens_above_model_limit_is_rejected_naming_the_limit(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, max_tokens=100000)
    assert caught.value.status_code == 400
    assert "16384" in error_object(caught.value)["message"]


def test_non_numeric_temperature_is_rejected_naming_the_parameter(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, extra_body={"temperature": "hot"})
    assert caught.value.status_code == 400
    assert error_object(caught.value)["param"] == "temperature"


def test_gateway_still_serves_after_errors(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    assert response.choices[0].message.content
    assert response.usage is not None and response.usage.completion_tokens > 0


# --------------------------------------------------------------------------------------------------
# Admin API
# --------------------------------------------------------------------------------------------------


def test_admin_logs_list_successful_simulator_calls_with_cost(gateway: Gateway, client: openai.OpenAI) -> None:
    # Make sure at least one logged call exists even when this test runs alone.
    client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)

    request = urllib.request.Request(
        f"{gateway.root_url}/admin/logs?model={CHAT_MODEL}&limit=5",
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        body = json.load(response)

    assert body.get("object") == "list", body
    rows = body.get("data")
    assert isinstance(rows, list) and rows, body
    assert len(rows) <= 5
    good = [
        row
        for row in rows
        if row.get("status") == 200
        and row.get("provider") == "simulator"
        and isinstance(row.get("cost_usd"), (int, float))
        and row["cost_usd"] > 0
    ]
    assert good, f"no successful simulator row with cost_usd > 0 in {rows!r}"
