"""The official ``openai`` SDK calling models whose routes speak other dialects (fake upstreams on loopback).

Each fake speaks its provider's real wire format (see ``fake_providers.py``); the gateway is the real
binary. The tests check what the SDK sees (content, tool calls, streaming, usage and cost, errors)
and what the upstream received (the translated request, credentials in the provider's header).
"""

from __future__ import annotations

import base64
import json
import math
from typing import Iterator

import openai
import pytest

from fake_providers import FakeAnthropic, FakeAzure, FakeBedrock, FakeGemini
from test_operations import running_gateway

# Catalog prices for claude-sonnet-4-5 on Anthropic, USD per 1M tokens.
SONNET = {"input": 3.0, "cached_input": 0.3, "cache_write": 3.75, "output": 15.0}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n0000").decode()


@pytest.fixture(scope="module")
def client(anthropic_upstream: FakeAnthropic, gemini_upstream: FakeGemini, azure_upstream: FakeAzure,
           bedrock_upstream: FakeBedrock) -> Iterator[openai.OpenAI]:
    config = f"""\
listen: 127.0.0.1:{{port}}
store: memory
providers:
  anthropic:
    type: anthropic
    base_url: {anthropic_upstream.url}
    api_key: {FakeAnthropic.API_KEY}
  gemini:
    type: gemini
    base_url: {gemini_upstream.url}/v1beta
    api_key: {FakeGemini.API_KEY}
  azure:
    type: azure
    base_url: {azure_upstream.url}
    api_key: {FakeAzure.API_KEY}
    api_version: "{FakeAzure.API_VERSION}"
  bedrock:
    type: bedrock
    base_url: {bedrock_upstream.url}
    region: us-east-1
    access_key_id: {FakeBedrock.ACCESS_KEY}
    secret_access_key: fake-secret
models:
  mixed:
    routes:
      - provider: anthropic
        model: claude-sonnet-4-5-20250929
      - provider: azure
        model: prod-gpt4o-deployment
  claude-on-bedrock:
    routes:
      - provider: bedrock
        model: us.anthropic.claude-sonnet-4-5-20250929-v1:0
  cohere-embed:
    routes:
      - provider: bedrock
        model: cohere.embed-english-v3
  team-4o:
    routes:
      - provider: azure
        model: prod-gpt4o-deployment
  azure-embedding:
    routes:
      - provider: azure
        model: embedding-deployment
  gemini-embedding:
    routes:
      - provider: gemini
        model: text-embedding-004
"""
    with running_gateway(config) as (_, port, _):
        yield openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=20)


def sonnet_cost(prompt: int, cached: int, written: int, completion: int) -> float:
    plain = prompt - cached - written
    return (plain * SONNET["input"] + cached * SONNET["cached_input"] + written * SONNET["cache_write"]
            + completion * SONNET["output"]) / 1e6


def test_a_chat_completion_on_an_anthropic_route(client: openai.OpenAI, anthropic_upstream: FakeAnthropic) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="claude-sonnet-4-5",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        max_tokens=200,
    )
    response = raw.parse()
    assert response.choices[0].message.content == "Echo: Hello there"
    assert response.choices[0].finish_reason == "stop"
    assert raw.headers["x-switchyard-provider"] == "anthropic"
    assert raw.headers["x-switchyard-model"] == "claude-sonnet-4-5-20250929"

    sent = anthropic_upstream.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == FakeAnthropic.API_KEY
    assert "authorization" not in sent.headers
    assert sent.body["system"] == "Be brief."
    assert sent.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}]
    assert sent.body["max_tokens"] == 200

    # 12 input + 3 cache reads + 2 cache writes; each priced at its own rate.
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (17, 7)
    assert usage.prompt_tokens_details.cached_tokens == 3
    cost = (response.usage.model_extra or {})["cost"]
    assert math.isclose(cost, sonnet_cost(17, 3, 2, 7), rel_tol=1e-9)
    assert math.isclose(float(raw.headers["x-switchyard-cost-usd"]), cost, rel_tol=1e-6)


def test_max_tokens_defaults_to_the_routes_output_limit(client: openai.OpenAI,
                                                        anthropic_upstream: FakeAnthropic) -> None:
    client.chat.completions.create(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "x"}])
    assert anthropic_upstream.requests[-1].body["max_tokens"] == 64000


def test_streaming_text_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "stream me please"}],
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == "Echo: stream me please"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    usage = chunks[-1].usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (17, 7)
    assert math.isclose((usage.model_extra or {})["cost"], sonnet_cost(17, 3, 2, 7), rel_tol=1e-9)


def test_streaming_without_include_usage_gets_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)


def test_tools_and_images_round_trip(client: openai.OpenAI, anthropic_upstream: FakeAnthropic) -> None:
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "Weather in the photo's city?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]}]
    response = client.chat.completions.create(model="claude-sonnet-4-5", messages=messages, tools=TOOLS)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "toolu_fake1", "get_weather", {"city": "Paris"})
    sent = anthropic_upstream.requests[-1].body
    assert sent["tools"][0]["input_schema"]["required"] == ["city"]
    assert sent["messages"][0]["content"][1] == {
        "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}

    # The tool result goes back as a tool_result block in a user turn.
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "18 degrees"}]
    final = client.chat.completions.create(model="claude-sonnet-4-5", messages=messages, tools=TOOLS)
    assert final.choices[0].finish_reason == "stop"
    sent = anthropic_upstream.requests[-1].body
    assert sent["messages"][1]["content"][-1]["type"] == "tool_use"
    assert sent["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_fake1", "content": "18 degrees"}]}


def test_streamed_tool_call_arguments(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "weather?"}], tools=TOOLS, stream=True))
    deltas = [call for c in chunks if c.choices for call in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == "toolu_fake2" and deltas[0].function.name == "get_weather"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_an_anthropic_error_reaches_the_caller_in_openai_shape(client: openai.OpenAI,
                                                               anthropic_upstream: FakeAnthropic) -> None:
    anthropic_upstream.fail_next(400, {"type": "error", "error": {
        "type": "invalid_request_error", "message": "messages: text content blocks must be non-empty"}})
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "x"}])
    error = caught.value.response.json()["error"]
    assert "text content blocks must be non-empty" in error["message"]


def test_an_overloaded_anthropic_is_retried(client: openai.OpenAI, anthropic_upstream: FakeAnthropic) -> None:
    anthropic_upstream.fail_next(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    before = len(anthropic_upstream.requests)
    raw = client.chat.completions.with_raw_response.create(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "again"}])
    assert raw.parse().choices[0].message.content == "Echo: again"
    assert raw.headers["x-switchyard-attempts"] == "2"
    assert len(anthropic_upstream.requests) == before + 2


def test_what_anthropic_cannot_express_is_a_400_naming_it(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "x"}], logprobs=True)
    error = caught.value.response.json()["error"]
    assert error["code"] == "capability_not_supported" and error["param"] == "logprobs"
    assert "anthropic/claude-sonnet-4-5-20250929: `logprobs` is not supported on Anthropic routes" in error["message"]


# Gemini ------------------------------------------------------------------------------------------

GEMINI_FLASH = {"input": 0.3, "cached_input": 0.03, "output": 2.5}


def test_a_chat_completion_on_a_gemini_route(client: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Bonjour"}],
        max_tokens=100, reasoning_effort="low",
    )
    response = raw.parse()
    assert response.choices[0].message.content == "Echo: Bonjour"
    assert raw.headers["x-switchyard-provider"] == "gemini"
    sent = gemini_upstream.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == FakeGemini.API_KEY
    assert sent.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent.body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}
    usage = response.usage
    # Thinking tokens count as output and are reported as reasoning.
    assert (usage.prompt_tokens, usage.completion_tokens) == (11, 9)
    assert usage.completion_tokens_details.reasoning_tokens == 3
    expected = (9 * GEMINI_FLASH["input"] + 2 * GEMINI_FLASH["cached_input"] + 9 * GEMINI_FLASH["output"]) / 1e6
    assert math.isclose((usage.model_extra or {})["cost"], expected, rel_tol=1e-9)


def test_a_gemini_stream_and_tool_call(client: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    chunks = list(client.chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "stream it"}], stream=True,
        stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip() == "Echo: stream it"
    assert chunks[-1].usage.completion_tokens == 9
    assert gemini_upstream.requests[-1].path.endswith(":streamGenerateContent?alt=sse")

    response = client.chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "weather?"}], tools=TOOLS)
    call = response.choices[0].message.tool_calls[0]
    assert response.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})
    follow_up = client.chat.completions.create(model="gemini-2.5-flash", tools=TOOLS, messages=[
        {"role": "user", "content": "weather?"}, response.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"celsius": 18}'}])
    assert follow_up.choices[0].finish_reason == "stop"
    assert gemini_upstream.requests[-1].body["contents"][-1] == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"celsius": 18}}}]}


def test_gemini_embeddings(client: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    result = client.embeddings.create(model="gemini-embedding", input=["one", "three"])
    assert [item.embedding for item in result.data] == [[3.0, 0.5, -0.5], [5.0, 0.5, -0.5]]
    assert gemini_upstream.requests[-1].path == "/v1beta/models/text-embedding-004:batchEmbedContents"


def test_a_gemini_error_in_openai_shape(client: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.fail_next(400, {"error": {"code": 400, "message": "Invalid JSON payload received.",
                                              "status": "INVALID_ARGUMENT"}})
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}])
    assert "INVALID_ARGUMENT: Invalid JSON payload received." in caught.value.response.json()["error"]["message"]


# Azure -------------------------------------------------------------------------------------------


def test_azure_deployments(client: openai.OpenAI, azure_upstream: FakeAzure) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="team-4o", messages=[{"role": "user", "content": "hello azure"}])
    assert raw.parse().choices[0].message.content == "Echo: hello azure"
    assert raw.headers["x-switchyard-provider"] == "azure"
    sent = azure_upstream.requests[-1]
    assert sent.path == f"/openai/deployments/prod-gpt4o-deployment/chat/completions?api-version={FakeAzure.API_VERSION}"
    assert sent.headers["api-key"] == FakeAzure.API_KEY and "authorization" not in sent.headers

    chunks = list(client.chat.completions.create(
        model="team-4o", messages=[{"role": "user", "content": "stream azure"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip() == "Echo: stream azure"
    assert azure_upstream.requests[-1].body["stream_options"] == {"include_usage": True}

    result = client.embeddings.create(model="azure-embedding", input=["a", "b"])
    assert len(result.data) == 2
    assert azure_upstream.requests[-1].path.startswith("/openai/deployments/embedding-deployment/embeddings?")


# Bedrock -----------------------------------------------------------------------------------------


def test_bedrock_converse(client: openai.OpenAI, bedrock_upstream: FakeBedrock) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="claude-on-bedrock", messages=[{"role": "system", "content": "Short."},
                                             {"role": "user", "content": "hi bedrock"}], max_tokens=50)
    response = raw.parse()
    assert response.choices[0].message.content == "Echo: hi bedrock"
    assert raw.headers["x-switchyard-provider"] == "bedrock"
    sent = bedrock_upstream.requests[-1]
    assert sent.path == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    assert "SignedHeaders=content-type;host;x-amz-date" in sent.headers["authorization"]
    assert sent.body["system"] == [{"text": "Short."}]
    assert sent.body["inferenceConfig"] == {"maxTokens": 50}
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (13, 4)
    # The catalog's prices for the Bedrock route (cross-region, 10% above Anthropic's), cache reads and
    # writes at their own rates.
    expected = (10 * 3.3 + 2 * 0.33 + 1 * 4.125 + 4 * 16.5) / 1e6
    assert math.isclose((usage.model_extra or {})["cost"], expected, rel_tol=1e-9)


def test_bedrock_converse_stream_and_tools(client: openai.OpenAI, bedrock_upstream: FakeBedrock) -> None:
    chunks = list(client.chat.completions.create(
        model="claude-on-bedrock", messages=[{"role": "user", "content": "stream bedrock"}], stream=True,
        stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip() == "Echo: stream bedrock"
    assert chunks[-1].usage.prompt_tokens == 13
    assert bedrock_upstream.requests[-1].path.endswith("/converse-stream")

    streamed = list(client.chat.completions.create(
        model="claude-on-bedrock", messages=[{"role": "user", "content": "weather?"}], tools=TOOLS, stream=True))
    deltas = [call for c in streamed if c.choices for call in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == "tooluse_fake2"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Paris"}

    response = client.chat.completions.create(
        model="claude-on-bedrock", messages=[{"role": "user", "content": "weather?"}], tools=TOOLS)
    call = response.choices[0].message.tool_calls[0]
    assert (call.id, json.loads(call.function.arguments)) == ("tooluse_fake1", {"city": "Paris"})
    client.chat.completions.create(model="claude-on-bedrock", tools=TOOLS, messages=[
        {"role": "user", "content": "weather?"}, response.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18 C"}])
    assert bedrock_upstream.requests[-1].body["messages"][-1] == {"role": "user", "content": [
        {"toolResult": {"toolUseId": "tooluse_fake1", "content": [{"text": "18 C"}]}}]}


def test_bedrock_embeddings_and_errors(client: openai.OpenAI, bedrock_upstream: FakeBedrock) -> None:
    result = client.embeddings.create(model="cohere-embed", input=["ab", "abc"])
    assert [item.embedding for item in result.data] == [[0.5, 2.0], [0.5, 3.0]]
    bedrock_upstream.fail_next(400, {"message": "Malformed input request: #: extraneous key [foo]"},
                               {"x-amzn-ErrorType": "ValidationException:http://internal.amazon.com/"})
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="claude-on-bedrock", messages=[{"role": "user", "content": "x"}])
    assert "ValidationException: Malformed input request" in caught.value.response.json()["error"]["message"]


# Honest capability handling ----------------------------------------------------------------------


def test_a_route_that_cannot_express_the_request_is_skipped(client: openai.OpenAI, anthropic_upstream: FakeAnthropic,
                                                             azure_upstream: FakeAzure) -> None:
    before = len(anthropic_upstream.requests)
    raw = client.chat.completions.with_raw_response.create(
        model="mixed", messages=[{"role": "user", "content": "with logprobs"}], logprobs=True)
    assert raw.headers["x-switchyard-provider"] == "azure"
    assert raw.headers["x-switchyard-attempts"] == "1"
    assert len(anthropic_upstream.requests) == before
    assert azure_upstream.requests[-1].body["logprobs"] is True

    # Without logprobs the first route serves it.
    raw = client.chat.completions.with_raw_response.create(
        model="mixed", messages=[{"role": "user", "content": "plain"}])
    assert raw.headers["x-switchyard-provider"] == "anthropic"
