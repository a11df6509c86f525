"""The response cache end to end: the gateway binary with the official openai and anthropic SDKs, a fake
OpenAI upstream counting its calls, the all-MiniLM-L6-v2 embeddings fixture (scripts/embeddings) for the
semantic cache, and PostgreSQL shared by two instances.

The semantic cache's precision is measured on the labelled pairs of data/semantic_pairs.jsonl at the
default threshold (semantic_eval.py): no look-alike may hit, and at least 70 % of paraphrases must.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from typing import Any, Iterator

import anthropic
import openai
import pytest

import semantic_eval
from fake_providers import FakeOpenAI
from test_operations import running_gateway
from test_postgres_store import _psql, database  # noqa: F401 (fixture)

MASTER_KEY = "sk-cache-master-0123456789"


def _embeddings() -> str:
    url = os.environ.get("SWITCHYARD_TEST_EMBEDDINGS")
    if not url:
        if os.environ.get("SWITCHYARD_REQUIRE_EMBEDDINGS") == "1":
            pytest.fail("SWITCHYARD_TEST_EMBEDDINGS is not set (scripts/test starts the embeddings fixture)")
        pytest.skip("no embeddings fixture: run through scripts/test, which starts it")
    return url


def _config(upstream: FakeOpenAI, store: str = "memory", storage: str = "memory", extra: str = "") -> str:
    return f"""\
listen: 127.0.0.1:{{port}}
master_key: {MASTER_KEY}
store: "{store}"
providers:
  up: {{{{type: openai, base_url: {upstream.url}/v1, api_key: sk-upstream-0123456789}}}}
models:
  chat:
    routes: [{{{{provider: up, model: gpt-4o-mini, pricing: {{{{input: 1, output: 2}}}}}}}}]
cache:
  mode: exact
  storage: {storage}
{extra}"""


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def gateway(upstream: FakeOpenAI) -> Iterator[int]:
    with running_gateway(_config(upstream)) as (_, port, _):
        yield port


def _until_hit(send: Any, expected: str = "hit") -> Any:
    """Calls ``send`` until the answer's cache status is ``expected`` (answers are stored off the request
    path), for at most about 3 s."""
    for _ in range(150):
        response = send()
        if response.headers.get("x-switchyard-cache") == expected:
            return response
        time.sleep(0.02)
    raise AssertionError(f"no {expected} within 3 s")


def test_the_openai_sdk_gets_a_cached_answer_as_json_and_as_a_stream(gateway: int, upstream: FakeOpenAI) -> None:
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{gateway}/v1", api_key=MASTER_KEY)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    first = client.chat.completions.with_raw_response.create(model="chat", messages=messages, temperature=0)
    assert first.headers["x-switchyard-cache"] == "miss"
    assert float(first.headers["x-switchyard-cost-usd"]) > 0
    calls = len(upstream.requests)

    hit = _until_hit(lambda: client.chat.completions.with_raw_response.create(
        model="chat", messages=messages, temperature=0.0, user="someone-else"))
    assert hit.headers["x-switchyard-cost-usd"] == "0"
    answer = hit.parse()
    assert answer.choices[0].message.content == "Echo: What is the capital of France?"
    assert answer.usage.model_extra["cost"] == 0

    stream = client.chat.completions.create(model="chat", messages=messages, temperature=0, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        "Echo: What is the capital of France?"
    assert chunks[-1].usage is not None and chunks[-1].usage.model_extra["cost"] == 0
    assert len(upstream.requests) == calls  # no upstream call for either hit


def test_the_anthropic_sdk_gets_a_cached_answer_in_its_own_shapes(gateway: int, upstream: FakeOpenAI) -> None:
    client = anthropic.Anthropic(base_url=f"http://127.0.0.1:{gateway}", api_key=MASTER_KEY)
    question = [{"role": "user", "content": "Name a prime number."}]
    first = client.messages.with_raw_response.create(model="chat", max_tokens=100, messages=question)
    assert first.headers["x-switchyard-cache"] == "miss"
    calls = len(upstream.requests)
    hit = _until_hit(lambda: client.messages.with_raw_response.create(model="chat", max_tokens=100,
                                                                      messages=question))
    message = hit.parse()
    assert message.type == "message" and message.content[0].text == "Echo: Name a prime number."

    with client.messages.stream(model="chat", max_tokens=100, messages=question) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Echo: Name a prime number."
    assert final.stop_reason == "end_turn"
    assert len(upstream.requests) == calls


def test_a_streamed_miss_is_stored_whole_and_served_to_a_json_request(gateway: int, upstream: FakeOpenAI) -> None:
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{gateway}/v1", api_key=MASTER_KEY)
    messages = [{"role": "user", "content": "Stream this once."}]
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="chat", messages=messages, stream=True) if c.choices)
    calls = len(upstream.requests)
    hit = _until_hit(lambda: client.chat.completions.with_raw_response.create(model="chat", messages=messages))
    assert hit.parse().choices[0].message.content == streamed
    assert len(upstream.requests) == calls


def test_hits_show_in_the_log_with_their_saving(gateway: int) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{gateway}/admin/logs?limit=50",
                                     headers={"authorization": f"Bearer {MASTER_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        rows = json.load(response)["data"]
    hits = [row for row in rows if row["cache"] == "hit"]
    assert hits and all(row["cost_usd"] == 0 for row in hits)
    assert any((row.get("cache_saved_usd") or 0) > 0 for row in hits)


@pytest.fixture(scope="module")
def semantic_gateway(upstream: FakeOpenAI) -> Iterator[int]:
    config = semantic_eval.gateway_config(upstream.url, _embeddings())
    with running_gateway(config) as (_, port, _):
        yield port


def test_a_paraphrase_is_a_semantic_hit_and_a_look_alike_is_not(semantic_gateway: int) -> None:
    system = "Support bot."
    assert semantic_eval.chat(semantic_gateway, system, "How do I reset my password?")[0] == "miss"
    time.sleep(0.3)
    status, reason = semantic_eval.chat(semantic_gateway, system, "What are the steps to reset my password?")
    assert status == "semantic-hit", reason
    assert "similarity=" in reason
    assert semantic_eval.chat(semantic_gateway, system, "How do I reset my router?")[0] == "miss"
    # The same question under another system prompt is another context.
    assert semantic_eval.chat(semantic_gateway, "Sales bot.", "What are the steps to reset my password?")[0] == "miss"


def test_hot_sampling_gets_no_semantic_answer(semantic_gateway: int) -> None:
    body = {"model": "chat", "temperature": 1.5, "messages": [
        {"role": "system", "content": "Creative bot."}, {"role": "user", "content": "Write a poem about rain."}]}

    def send(content: str) -> str:
        body["messages"][1]["content"] = content
        request = urllib.request.Request(f"http://127.0.0.1:{semantic_gateway}/v1/chat/completions",
                                         data=json.dumps(body).encode(),
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers["x-switchyard-cache"]

    assert send("Write a poem about rain.") == "miss"
    time.sleep(0.3)
    assert send("Write a short poem about the rain.") == "miss"
    assert send("Write a poem about rain.") == "hit"  # exact answers still serve


def test_semantic_precision_and_recall_on_the_labelled_pairs(semantic_gateway: int) -> None:
    pairs = semantic_eval.load_pairs()
    assert len(pairs) >= 100
    result = semantic_eval.summary(semantic_eval.evaluate(semantic_gateway, pairs, run="eval-"))
    print(json.dumps(result, indent=1))
    assert result["false_hits"] == []
    assert result["recall"] >= 0.70, result


def test_two_instances_share_cached_answers_through_postgres(database: str) -> None:  # noqa: F811
    fake = FakeOpenAI()
    embeddings = _embeddings()
    extra = f"""\
  semantic: {{{{embedding_model: minilm}}}}
"""
    config = _config(fake, store=database, storage="store", extra=extra).replace("mode: exact", "mode: semantic")
    config = config.replace("providers:\n", f"providers:\n  embed: {{{{type: openai, base_url: {embeddings}, "
                                            "api_key: sk-embeddings-0123456789}}\n")
    config = config.replace("models:\n", "models:\n  minilm:\n    routes: [{{provider: embed, "
                                         "model: all-MiniLM-L6-v2}}]\n")
    try:
        with running_gateway(config) as (_, first, _), running_gateway(config) as (_, second, _):
            client_one = openai.OpenAI(base_url=f"http://127.0.0.1:{first}/v1", api_key=MASTER_KEY)
            client_two = openai.OpenAI(base_url=f"http://127.0.0.1:{second}/v1", api_key=MASTER_KEY)
            question = [{"role": "user", "content": "How do I reset my password?"}]
            client_one.chat.completions.create(model="chat", messages=question)
            _until_hit(lambda: client_two.chat.completions.with_raw_response.create(model="chat", messages=question))
            # The other instance's index learns the entry within its refresh (2 s); until then each try
            # is a miss that goes upstream (and, with no-store, is not stored itself).
            paraphrase = [{"role": "user", "content": "What are the steps to reset my password?"}]
            for _ in range(40):
                response = client_two.chat.completions.with_raw_response.create(
                    model="chat", messages=paraphrase, extra_headers={"x-switchyard-cache": "no-store"})
                if response.headers["x-switchyard-cache"] == "semantic-hit":
                    break
                time.sleep(0.1)
            assert response.headers["x-switchyard-cache"] == "semantic-hit"

            # Cleared through one instance, gone for both.
            request = urllib.request.Request(f"http://127.0.0.1:{second}/admin/cache?model=chat", method="DELETE",
                                             headers={"authorization": f"Bearer {MASTER_KEY}"})
            with urllib.request.urlopen(request, timeout=10) as cleared:
                assert json.load(cleared)["removed"] >= 1
            # The other instance may serve its memory copy for up to 2 s more.
            _until_hit(lambda: client_one.chat.completions.with_raw_response.create(
                model="chat", messages=question, extra_headers={"x-switchyard-cache": "no-store"}), expected="miss")
        assert _psql(database, "SELECT count(*) FROM response_cache WHERE vector IS NOT NULL").strip() in {"0", "1"}
    finally:
        fake.close()
