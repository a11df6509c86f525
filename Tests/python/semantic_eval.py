"""Measures the semantic cache's precision and recall through a running gateway.

Each labelled pair of ``data/semantic_pairs.jsonl`` gets a context of its own (a system prompt naming the
pair), so a pair's prompts can only meet each other: first every pair's ``a`` is sent (a miss, stored),
then every ``b``; a ``b`` answered with ``x-switchyard-cache: semantic-hit`` is a semantic hit. Used by
test_cache.py and by ``scripts/cache-precision``.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PAIRS_PATH = Path(__file__).resolve().parent / "data" / "semantic_pairs.jsonl"


def load_pairs() -> list[dict[str, str]]:
    return [json.loads(line) for line in PAIRS_PATH.read_text().splitlines() if line.strip()]


def gateway_config(upstream: str, embeddings: str, threshold: float | None = None) -> str:
    """A gateway configuration template for ``running_gateway`` (``{port}`` filled in there): a semantic
    cache in memory, ``chat`` answered by ``upstream`` (an OpenAI fake's URL), prompts embedded by
    ``minilm`` on the embeddings server at ``embeddings`` (its /v1 URL)."""
    extra = "" if threshold is None else f", threshold: {threshold}"
    return f"""\
listen: 127.0.0.1:{{port}}
store: memory
providers:
  up: {{{{type: openai, base_url: {upstream}/v1, api_key: sk-upstream-0123456789}}}}
  embed: {{{{type: openai, base_url: {embeddings}, api_key: sk-embeddings-0123456789}}}}
models:
  chat:
    routes: [{{{{provider: up, model: gpt-4o-mini}}}}]
  minilm:
    routes: [{{{{provider: embed, model: all-MiniLM-L6-v2}}}}]
cache:
  mode: semantic
  storage: memory
  semantic: {{{{embedding_model: minilm{extra}}}}}
"""


def chat(port: int, system: str, prompt: str) -> tuple[str, str]:
    """Sends one chat call; returns its ``x-switchyard-cache`` and ``x-switchyard-route-reason``."""
    body = json.dumps({"model": "chat", "messages": [
        {"role": "system", "content": system}, {"role": "user", "content": prompt}]}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return response.headers["x-switchyard-cache"], response.headers.get("x-switchyard-route-reason", "")


@dataclass
class Result:
    pair: dict[str, str]
    status: str
    reason: str

    @property
    def hit(self) -> bool:
        return self.status == "semantic-hit"


def evaluate(port: int, pairs: list[dict[str, str]], run: str = "") -> list[Result]:
    """Stores every pair's ``a``, then asks every ``b``; ``run`` keeps repeated runs on one gateway apart."""
    for index, pair in enumerate(pairs):
        status, _ = chat(port, f"Case {run}{index}.", pair["a"])
        assert status == "miss", (pair, status)
    time.sleep(0.5)  # answers are stored off the request path
    results = []
    for index, pair in enumerate(pairs):
        status, reason = chat(port, f"Case {run}{index}.", pair["b"])
        results.append(Result(pair, status, reason))
    return results


def summary(results: list[Result]) -> dict[str, Any]:
    """Precision and recall of semantic hits, and the hits per kind."""
    hits = [r for r in results if r.hit]
    wanted = [r for r in results if r.pair["expect"] == "hit"]
    true_hits = [r for r in hits if r.pair["expect"] == "hit"]
    kinds: dict[str, list[int]] = {}
    for result in results:
        counts = kinds.setdefault(result.pair["kind"], [0, 0])
        counts[0] += 1
        counts[1] += int(result.hit)
    return {
        "pairs": len(results),
        "hits": len(hits),
        "false_hits": [(r.pair["a"], r.pair["b"], r.reason) for r in hits if r.pair["expect"] == "miss"],
        "precision": len(true_hits) / len(hits) if hits else 1.0,
        "recall": len(true_hits) / len(wanted) if wanted else 0.0,
        "kinds": {kind: {"pairs": total, "hits": hit} for kind, (total, hit) in sorted(kinds.items())},
    }


def main() -> None:
    """``scripts/cache-precision``: precision and recall at each threshold given, one gateway each."""
    import argparse
    import os

    from fake_providers import FakeOpenAI
    from test_operations import running_gateway

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("thresholds", nargs="*", type=float, default=[0.75, 0.78, 0.8, 0.82, 0.85, 0.9])
    arguments = parser.parse_args()
    pairs = load_pairs()
    upstream = FakeOpenAI()
    try:
        print("| threshold | semantic hits | false hits | precision | recall | paraphrases hit |")
        print("|---|---|---|---|---|---|")
        for threshold in arguments.thresholds:
            config = gateway_config(upstream.url, os.environ["SWITCHYARD_TEST_EMBEDDINGS"], threshold)
            with running_gateway(config) as (_, port, _):
                result = summary(evaluate(port, pairs))
            paraphrases = result["kinds"]["paraphrase"]
            print(f"| {threshold} | {result['hits']} | {len(result['false_hits'])} | {result['precision']:.3f} "
                  f"| {result['recall']:.3f} | {paraphrases['hits']} of {paraphrases['pairs']} |")
            for a, b, reason in result["false_hits"]:
                print(f"|  | false hit: {a} / {b} ({reason}) | | | | |")
    finally:
        upstream.close()


if __name__ == "__main__":
    main()
