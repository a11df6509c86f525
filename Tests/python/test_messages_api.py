"""The official ``anthropic`` SDK calling ``POST /v1/messages`` for models on other dialects' routes.

The model ``gpt-4o-mini`` is routed to a fake OpenAI server (``fake_providers.FakeOpenAI``); the
gateway is the real binary with a master key, which the SDK sends as ``x-api-key``. The tests check
the answer and the exact event sequence the SDK sees, what the upstream received, and Anthropic's
error shape on this endpoint.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from typing import Iterator

import anthropic
import pytest

from fake_providers import FakeAnthropic, FakeOpenAI
from test_operations import running_gateway

MASTER_KEY = "sk-messages-master-0123456789"
TOOLS = [{"name": "get_weather", "description": "Weather for a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n0000").decode()


@pytest.fixture(scope="module")
def gateway_port(openai_upstream: FakeOpenAI, anthropic_upstream: FakeAnthropic) -> Iterator[int]:
    config = f"""\
listen: 127.0.0.1:{{port}}
master_key: {MASTER_KEY}
store: memory
providers:
  openai:
    type: openai
    base_url: {openai_upstream.url}/v1
    api_key: sk-upstream
  anthropic:
    type: anthropic
    base_url: {anthropic_upstream.url}
    api_key: {FakeAnthropic.API_KEY}
"""
    with running_gateway(config) as (_, port, _):
        yield port


@pytest.fixture(scope="module")
def client(gateway_port: int) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"http://127.0.0.1:{gateway_port}", api_key=MASTER_KEY, max_retries=0,
                               timeout=20)


def test_a_message_on_an_openai_route(client: anthropic.Anthropic, openai_upstream: FakeOpenAI) -> None:
    raw = client.messages.with_raw_response.create(
        model="gpt-4o-mini", max_tokens=300, system="Be brief.",
        messages=[{"role": "user", "content": "Hello there"}],
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Echo: Hello there"
    assert message.stop_reason == "end_turn"
    # 20 prompt tokens of which 4 cached: Anthropic counts input without cache reads.
    assert (message.usage.input_tokens, message.usage.output_tokens) == (16, 5)
    assert message.usage.cache_read_input_tokens == 4
    assert raw.headers["x-switchyard-provider"] == "openai"
    assert float(raw.headers["x-switchyard-cost-usd"]) > 0

    sent = openai_upstream.requests[-1].body
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    assert sent["max_tokens"] == 300
    assert openai_upstream.requests[-1].headers["authorization"] == "Bearer sk-upstream"


def test_the_stream_is_anthropics_exact_event_sequence(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model="gpt-4o-mini", max_tokens=100,
                                messages=[{"role": "user", "content": "stream this"}]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    # The SDK's helper adds its own `text` events; the wire events are the others.
    wire = [kind for kind in kinds if kind not in ("text", "input_json")]
    assert wire[0] == "message_start"
    assert wire[1] == "content_block_start"
    assert set(wire[2:-3]) == {"content_block_delta"}
    assert wire[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert final.content[0].text.strip() == "Echo: stream this"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 5


def test_tools_and_images_both_ways(client: anthropic.Anthropic, openai_upstream: FakeOpenAI) -> None:
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "Weather where this photo was taken?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]}]
    message = client.messages.create(model="gpt-4o-mini", max_tokens=200, tools=TOOLS, messages=messages,
                                     tool_choice={"type": "any"})
    assert message.stop_reason == "tool_use"
    use = next(block for block in message.content if block.type == "tool_use")
    assert (use.id, use.name, use.input) == ("call_fake1", "get_weather", {"city": "Paris"})
    sent = openai_upstream.requests[-1].body
    assert sent["tool_choice"] == "required"
    assert sent["tools"][0]["function"]["parameters"]["required"] == ["city"]
    assert sent["messages"][0]["content"][1] == {"type": "image_url",
                                                 "image_url": {"url": f"data:image/png;base64,{PNG}"}}

    messages += [{"role": "assistant", "content": [block.model_dump() for block in message.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18 C"}]}]
    final = client.messages.create(model="gpt-4o-mini", max_tokens=200, tools=TOOLS, messages=messages)
    sent = openai_upstream.requests[-1].body
    assert sent["messages"][1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert sent["messages"][2] == {"role": "tool", "content": "18 C", "tool_call_id": "call_fake1"}
    assert final.stop_reason == "end_turn"


def test_a_streamed_tool_use(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model="gpt-4o-mini", max_tokens=100, tools=TOOLS,
                                messages=[{"role": "user", "content": "weather?"}]) as stream:
        final = stream.get_final_message()
    use = next(block for block in final.content if block.type == "tool_use")
    assert (use.name, use.input) == ("get_weather", {"city": "Paris"})
    assert final.stop_reason == "tool_use"


def test_errors_come_in_anthropics_shape(client: anthropic.Anthropic, gateway_port: int) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert missing.value.body["type"] == "error"
    assert missing.value.body["error"]["type"] == "not_found_error"

    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model="gpt-4o-mini", max_tokens=10, messages=[{"role": "robot", "content": "x"}])
    assert bad.value.body["error"]["type"] == "invalid_request_error"
    assert "messages.0.role" in bad.value.body["error"]["message"]

    stranger = anthropic.Anthropic(base_url=f"http://127.0.0.1:{gateway_port}", api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as unauthorized:
        stranger.messages.create(model="gpt-4o-mini", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert unauthorized.value.body["error"]["type"] == "authentication_error"


def test_a_missing_max_tokens_is_named(gateway_port: int) -> None:
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{gateway_port}/v1/messages", data=body,
                                     headers={"x-api-key": MASTER_KEY, "content-type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    error = json.load(caught.value)
    assert error["type"] == "error" and "`max_tokens`" in error["error"]["message"]


def test_count_tokens(client: anthropic.Anthropic) -> None:
    short = client.messages.count_tokens(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    long = client.messages.count_tokens(model="gpt-4o-mini", tools=TOOLS,
                                        messages=[{"role": "user", "content": "word " * 400}])
    assert 0 < short.input_tokens < long.input_tokens
    assert 400 <= long.input_tokens <= 1000
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="no-such-model", messages=[{"role": "user", "content": "hi"}])


def test_thinking_with_tools_round_trips_unchanged_on_an_anthropic_route(
        client: anthropic.Anthropic, anthropic_upstream: FakeAnthropic) -> None:
    thinking = {"type": "enabled", "budget_tokens": 2048}
    messages: list[dict] = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.messages.create(model="claude-sonnet-4-6", max_tokens=4000, thinking=thinking, tools=TOOLS,
                                   messages=messages)
    assert [block.type for block in first.content] == ["thinking", "text", "tool_use"]
    assert first.content[0].signature == FakeAnthropic.SIGNATURE
    assert anthropic_upstream.requests[-1].body["thinking"] == {"type": "enabled", "budget_tokens": 2048}

    # The next turn carries the signed thinking block back; the upstream refuses the turn without it.
    use = first.content[2]
    messages += [{"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18 C"}]}]
    second = client.messages.create(model="claude-sonnet-4-6", max_tokens=4000, thinking=thinking, tools=TOOLS,
                                    messages=messages)
    assert second.stop_reason == "end_turn"
    sent = anthropic_upstream.requests[-1].body["messages"][1]["content"]
    assert sent[0] == {"type": "thinking", "thinking": "Let me think.", "signature": FakeAnthropic.SIGNATURE}
    assert [block["type"] for block in sent] == ["thinking", "text", "tool_use"]


def test_a_streamed_thinking_block_keeps_its_signature(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=4000, tools=TOOLS,
                                thinking={"type": "enabled", "budget_tokens": 2048},
                                messages=[{"role": "user", "content": "Weather?"}]) as stream:
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[0].thinking == "Let me think."
    assert final.content[0].signature == FakeAnthropic.SIGNATURE


def test_thinking_blocks_are_left_out_for_an_openai_route(client: anthropic.Anthropic,
                                                          openai_upstream: FakeOpenAI) -> None:
    client.messages.create(model="gpt-4o-mini", max_tokens=100, messages=[
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"},
                                          {"type": "text", "text": "hello"}]},
        {"role": "user", "content": "again"}])
    sent = openai_upstream.requests[-1].body["messages"]
    assert sent[1] == {"role": "assistant", "content": "hello"}


def test_the_request_log_keeps_the_clients_anthropic_body(client: anthropic.Anthropic, gateway_port: int) -> None:
    client.messages.create(model="gpt-4o-mini", max_tokens=20, system="Log me as sent.",
                           messages=[{"role": "user", "content": "logged"}])
    rows: list = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the log is written in batches, off the request path
        request = urllib.request.Request(f"http://127.0.0.1:{gateway_port}/admin/logs?limit=20",
                                         headers={"Authorization": f"Bearer {MASTER_KEY}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            rows = [row for row in json.load(response)["data"] if "Log me as sent." in (row.get("request_body") or "")]
        if rows:
            break
        time.sleep(0.2)
    assert rows, "the call was not logged"
    logged = json.loads(rows[0]["request_body"])
    assert logged["system"] == "Log me as sent." and logged["messages"] == [{"role": "user", "content": "logged"}]
    assert rows[0]["endpoint"] == "messages"


def test_count_tokens_on_an_anthropic_route_asks_anthropic(client: anthropic.Anthropic,
                                                          anthropic_upstream: FakeAnthropic) -> None:
    raw = client.messages.with_raw_response.count_tokens(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
                                             {"role": "user", "content": "again"}])
    assert raw.parse().input_tokens == 1030
    assert raw.headers["x-switchyard-token-count"] == "exact"
    sent = anthropic_upstream.requests[-1]
    assert sent.path == "/v1/messages/count_tokens" and sent.body["model"] == "claude-sonnet-4-6"
    estimated = client.messages.with_raw_response.count_tokens(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert estimated.headers["x-switchyard-token-count"] == "estimate"
