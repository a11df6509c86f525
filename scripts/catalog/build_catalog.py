#!/usr/bin/env python3
"""Build Sources/SwitchyardCore/Catalog/catalog.json, Switchyard's built-in model catalog.

Usage:
    python3 scripts/catalog/build_catalog.py [--prices PATH] [--out PATH] [--check]

Facts come from two places:

* LiteLLM's model price map (MIT licence, copyright Berri AI), passed with --prices. For every
  route that names a `key` in that map, the context window, max output tokens, per-token prices
  (converted to USD per 1M tokens) and the capability flags supports_function_calling,
  supports_parallel_function_calling, supports_vision, supports_response_schema,
  supports_prompt_caching and supports_reasoning are read from the map.
* The curated table below: names, snapshots, release dates, knowledge cutoffs, modalities,
  supported Chat Completions parameters, capabilities the map does not carry (streaming,
  json_mode, batch, fine_tuning) and corrections where a provider's own documentation differs from
  the map. Routes without a `key` (the map has no entry for that provider's model) carry their
  figures inline; each of those is marked with a `# not in map` comment.

Precedence for a route's capabilities: all-false defaults < map flags < model `caps` < route `caps`.
The model-level fields describe the first route; later routes only carry fields that differ.

Only the Python 3.11 standard library is used.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The shared data folder sits beside the repository; pass --prices to use another copy.
DEFAULT_PRICES = Path(__file__).resolve().parents[3] / "shared" / "data" / "litellm-model-prices.json"
DEFAULT_OUT = REPO / "Sources" / "SwitchyardCore" / "Catalog" / "catalog.json"

OWNERS = {"openai", "anthropic", "google", "mistral", "deepseek", "meta", "xai", "amazon"}
PROVIDERS = {"openai", "anthropic", "gemini", "mistral", "deepseek", "groq", "together", "xai", "bedrock"}
CAP_KEYS = [
    "streaming", "tools", "parallel_tool_calls", "vision", "json_mode", "json_schema",
    "prompt_caching", "reasoning", "batch", "fine_tuning",
]
MAP_CAP_FLAGS = {
    "tools": "supports_function_calling",
    "parallel_tool_calls": "supports_parallel_function_calling",
    "vision": "supports_vision",
    "json_schema": "supports_response_schema",
    "prompt_caching": "supports_prompt_caching",
    "reasoning": "supports_reasoning",
}

# --- Supported OpenAI Chat Completions parameters, by family --------------------------------

# The product contract for gpt-4o-mini; also used for the other non-reasoning OpenAI chat models.
P_OPENAI = [
    "frequency_penalty", "logit_bias", "logprobs", "max_tokens", "max_completion_tokens",
    "presence_penalty", "response_format", "seed", "stop", "temperature", "tool_choice", "tools",
    "parallel_tool_calls", "top_logprobs", "top_p", "n", "user", "stream_options",
]
# o-series: no temperature/top_p/penalties/logprobs/logit_bias/stop; max_completion_tokens only.
P_OPENAI_O = [
    "max_completion_tokens", "reasoning_effort", "response_format", "tool_choice", "tools",
    "user", "stream_options",
]
# GPT-5 family: reasoning model parameters plus parallel_tool_calls and verbosity.
P_OPENAI_GPT5 = [
    "max_completion_tokens", "reasoning_effort", "verbosity", "response_format", "tool_choice",
    "tools", "parallel_tool_calls", "user", "stream_options",
]
P_OPENAI_EMBED_V3 = ["dimensions", "encoding_format", "user"]
P_OPENAI_EMBED_ADA = ["encoding_format", "user"]

# Anthropic Messages API, translated: no penalties, logprobs, logit_bias, seed or n.
P_ANTHROPIC = [
    "max_tokens", "max_completion_tokens", "response_format", "stop", "temperature",
    "tool_choice", "tools", "parallel_tool_calls", "top_p", "user", "stream_options",
]
P_ANTHROPIC_THINKING = P_ANTHROPIC + ["reasoning_effort"]

P_GEMINI = [
    "max_tokens", "max_completion_tokens", "response_format", "seed", "stop", "temperature",
    "tool_choice", "tools", "top_p", "stream_options",
]
P_GEMINI_THINKING = P_GEMINI + ["reasoning_effort"]

P_MISTRAL = [
    "frequency_penalty", "max_tokens", "max_completion_tokens", "n", "parallel_tool_calls",
    "presence_penalty", "response_format", "seed", "stop", "temperature", "tool_choice", "tools",
    "top_p", "stream_options",
]
P_MISTRAL_REASONING = P_MISTRAL + ["reasoning_effort"]

P_DEEPSEEK_CHAT = [
    "frequency_penalty", "logprobs", "max_tokens", "max_completion_tokens", "presence_penalty",
    "response_format", "stop", "temperature", "tool_choice", "tools", "top_logprobs", "top_p",
    "stream_options",
]
# deepseek-reasoner ignores sampling parameters and rejects logprobs.
P_DEEPSEEK_REASONER = ["max_tokens", "max_completion_tokens", "response_format", "stop", "stream_options"]

# Groq: frequency/presence penalty, logprobs and logit_bias are not supported; n must be 1.
P_GROQ = [
    "max_tokens", "max_completion_tokens", "parallel_tool_calls", "response_format", "seed",
    "stop", "temperature", "tool_choice", "tools", "top_p", "user", "stream_options",
]
# Bedrock Converse: inferenceConfig (maxTokens, temperature, topP, stopSequences) and toolConfig.
P_BEDROCK = [
    "max_tokens", "max_completion_tokens", "stop", "temperature", "tool_choice", "tools", "top_p",
    "stream_options",
]
P_BEDROCK_NOVA = P_BEDROCK + ["response_format"]

P_XAI = [
    "frequency_penalty", "logprobs", "max_tokens", "max_completion_tokens", "n",
    "parallel_tool_calls", "presence_penalty", "response_format", "seed", "stop", "temperature",
    "tool_choice", "tools", "top_logprobs", "top_p", "user", "stream_options",
]
# xAI reasoning models reject presence_penalty, frequency_penalty and stop.
P_XAI_REASONING = [
    "max_tokens", "max_completion_tokens", "parallel_tool_calls", "response_format", "seed",
    "temperature", "tool_choice", "tools", "top_p", "user", "stream_options",
]

TEXT = ["text"]
TEXT_IMAGE = ["text", "image"]
TEXT_IMAGE_VIDEO = ["text", "image", "video"]
GEMINI_IN = ["text", "image", "audio", "video"]


def route(provider: str, model: str, key: str | None = None, **fields) -> dict:
    return {"provider": provider, "model": model, "key": key, **fields}


def price(inp: float, out: float, cached: float | None = None) -> dict:
    p = {"input": inp}
    if cached is not None:
        p["cached_input"] = cached
    p["output"] = out
    return p


# Capability sets that the map does not carry, per maker/provider.
OPENAI_CAPS = {"streaming": True, "json_mode": True, "batch": True}
ANTHROPIC_CAPS = {"streaming": True, "parallel_tool_calls": True, "json_mode": False, "batch": True}
GEMINI_CAPS = {"streaming": True, "parallel_tool_calls": True, "json_mode": True, "batch": True}
MISTRAL_CAPS = {"streaming": True, "parallel_tool_calls": True, "json_mode": True, "batch": True}
DEEPSEEK_CAPS = {"streaming": True, "json_mode": True, "json_schema": False, "batch": False}
XAI_CAPS = {"streaming": True, "parallel_tool_calls": True, "json_mode": True, "json_schema": True,
            "prompt_caching": True, "batch": False}
NOVA_CAPS = {"streaming": True, "json_mode": False, "parallel_tool_calls": False, "batch": True}
LLAMA_CAPS = {"streaming": True, "tools": True, "parallel_tool_calls": True, "json_mode": True,
              "prompt_caching": False, "reasoning": False, "batch": True}
# Llama on Bedrock (Converse): tools, but no JSON mode or parallel tool calls.
BEDROCK_LLAMA_CAPS = {"json_mode": False, "json_schema": False, "parallel_tool_calls": False}


def openai_chat(id_, name, key, *, snapshot, released, cutoff, params=P_OPENAI, modalities=TEXT_IMAGE,
                caps=None, **extra):
    return dict(id=id_, name=name, owned_by="openai", kind="chat", snapshot=snapshot, released=released,
                knowledge_cutoff=cutoff, modalities=(modalities, TEXT), params=params,
                caps={**OPENAI_CAPS, **(caps or {})}, routes=[route("openai", id_, key)], **extra)


MODELS: list[dict] = [
    # ---------------------------------------------------------------- OpenAI
    openai_chat("gpt-4o-mini", "GPT-4o mini", "gpt-4o-mini", snapshot="gpt-4o-mini-2024-07-18",
                released="2024-07-18", cutoff="2023-10-01", caps={"fine_tuning": True}),
    openai_chat("gpt-4o", "GPT-4o", "gpt-4o", snapshot="gpt-4o-2024-08-06", released="2024-05-13",
                cutoff="2023-10-01", caps={"fine_tuning": True}),
    openai_chat("gpt-4.1", "GPT-4.1", "gpt-4.1", snapshot="gpt-4.1-2025-04-14", released="2025-04-14",
                cutoff="2024-06-01", caps={"fine_tuning": True}),
    openai_chat("gpt-4.1-mini", "GPT-4.1 mini", "gpt-4.1-mini", snapshot="gpt-4.1-mini-2025-04-14",
                released="2025-04-14", cutoff="2024-06-01", caps={"fine_tuning": True}),
    openai_chat("gpt-4.1-nano", "GPT-4.1 nano", "gpt-4.1-nano", snapshot="gpt-4.1-nano-2025-04-14",
                released="2025-04-14", cutoff="2024-06-01", caps={"fine_tuning": True}),
    openai_chat("o1", "o1", "o1", snapshot="o1-2024-12-17", released="2024-12-17", cutoff="2023-10-01",
                params=P_OPENAI_O),
    openai_chat("o3-mini", "o3-mini", "o3-mini", snapshot="o3-mini-2025-01-31", released="2025-01-31",
                cutoff="2023-10-01", params=P_OPENAI_O, modalities=TEXT),
    openai_chat("o3", "o3", "o3", snapshot="o3-2025-04-16", released="2025-04-16", cutoff="2024-06-01",
                params=P_OPENAI_O),
    # o4-mini supports reinforcement fine-tuning.
    openai_chat("o4-mini", "o4-mini", "o4-mini", snapshot="o4-mini-2025-04-16", released="2025-04-16",
                cutoff="2024-06-01", params=P_OPENAI_O, caps={"fine_tuning": True}),
    # GPT-5 family: OpenAI documents a 400,000-token context window (272,000 input + 128,000 output);
    # the map's max_input_tokens is the 272,000 input limit.
    openai_chat("gpt-5", "GPT-5", "gpt-5", snapshot="gpt-5-2025-08-07", released="2025-08-07",
                cutoff="2024-09-30", params=P_OPENAI_GPT5, context_window=400000),
    openai_chat("gpt-5-mini", "GPT-5 mini", "gpt-5-mini", snapshot="gpt-5-mini-2025-08-07",
                released="2025-08-07", cutoff="2024-05-31", params=P_OPENAI_GPT5, context_window=400000),
    openai_chat("gpt-5-nano", "GPT-5 nano", "gpt-5-nano", snapshot="gpt-5-nano-2025-08-07",
                released="2025-08-07", cutoff="2024-05-31", params=P_OPENAI_GPT5, context_window=400000),
    openai_chat("gpt-5.1", "GPT-5.1", "gpt-5.1", snapshot="gpt-5.1-2025-11-13", released="2025-11-13",
                cutoff="2024-09-30", params=P_OPENAI_GPT5, context_window=400000),
    dict(id="text-embedding-3-small", name="text-embedding-3-small", owned_by="openai", kind="embedding",
         released="2024-01-25", modalities=(TEXT, ["embedding"]), params=P_OPENAI_EMBED_V3,
         caps={"batch": True}, routes=[route("openai", "text-embedding-3-small", "text-embedding-3-small")]),
    dict(id="text-embedding-3-large", name="text-embedding-3-large", owned_by="openai", kind="embedding",
         released="2024-01-25", modalities=(TEXT, ["embedding"]), params=P_OPENAI_EMBED_V3,
         caps={"batch": True}, routes=[route("openai", "text-embedding-3-large", "text-embedding-3-large")]),
    dict(id="text-embedding-ada-002", name="text-embedding-ada-002", owned_by="openai", kind="embedding",
         released="2022-12-15", modalities=(TEXT, ["embedding"]), params=P_OPENAI_EMBED_ADA,
         caps={"batch": True}, routes=[route("openai", "text-embedding-ada-002", "text-embedding-ada-002")]),

    # ---------------------------------------------------------------- Anthropic
    # Knowledge cutoffs are Anthropic's "reliable knowledge cutoff" figures.
    dict(id="claude-sonnet-4-5", name="Claude Sonnet 4.5", owned_by="anthropic", kind="chat",
         snapshot="claude-sonnet-4-5-20250929", released="2025-09-29", knowledge_cutoff="2025-01",
         modalities=(TEXT_IMAGE, TEXT), params=P_ANTHROPIC_THINKING, caps=ANTHROPIC_CAPS,
         routes=[route("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),
                 route("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                       "us.anthropic.claude-sonnet-4-5-20250929-v1:0")]),
    dict(id="claude-haiku-4-5", name="Claude Haiku 4.5", owned_by="anthropic", kind="chat",
         snapshot="claude-haiku-4-5-20251001", released="2025-10-15", knowledge_cutoff="2025-02",
         modalities=(TEXT_IMAGE, TEXT), params=P_ANTHROPIC_THINKING, caps=ANTHROPIC_CAPS,
         routes=[route("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001"),
                 route("bedrock", "us.anthropic.claude-haiku-4-5-20251001-v1:0",
                       "us.anthropic.claude-haiku-4-5-20251001-v1:0")]),
    dict(id="claude-opus-4-5", name="Claude Opus 4.5", owned_by="anthropic", kind="chat",
         snapshot="claude-opus-4-5-20251101", released="2025-11-24", knowledge_cutoff="2025-05",
         modalities=(TEXT_IMAGE, TEXT), params=P_ANTHROPIC_THINKING, caps=ANTHROPIC_CAPS,
         routes=[route("anthropic", "claude-opus-4-5-20251101", "claude-opus-4-5-20251101"),
                 route("bedrock", "us.anthropic.claude-opus-4-5-20251101-v1:0",
                       "us.anthropic.claude-opus-4-5-20251101-v1:0")]),
    # Newer than the rest; figures from the map only (no dates).
    dict(id="claude-opus-4-6", name="Claude Opus 4.6", owned_by="anthropic", kind="chat",
         modalities=(TEXT_IMAGE, TEXT), params=P_ANTHROPIC_THINKING, caps=ANTHROPIC_CAPS,
         routes=[route("anthropic", "claude-opus-4-6", "claude-opus-4-6"),
                 route("bedrock", "us.anthropic.claude-opus-4-6-v1", "us.anthropic.claude-opus-4-6-v1")]),
    dict(id="claude-sonnet-4-6", name="Claude Sonnet 4.6", owned_by="anthropic", kind="chat",
         modalities=(TEXT_IMAGE, TEXT), params=P_ANTHROPIC_THINKING, caps=ANTHROPIC_CAPS,
         routes=[route("anthropic", "claude-sonnet-4-6", "claude-sonnet-4-6"),
                 route("bedrock", "us.anthropic.claude-sonnet-4-6", "us.anthropic.claude-sonnet-4-6")]),
    # The map no longer lists the following under the `anthropic` provider (only under Bedrock);
    # the Anthropic-route figures are Anthropic's published list prices and limits.
    dict(id="claude-sonnet-4", name="Claude Sonnet 4", owned_by="anthropic", kind="chat",
         snapshot="claude-sonnet-4-20250514", released="2025-05-22", knowledge_cutoff="2025-01",
         modalities=(TEXT_IMAGE, TEXT), params=P_ANTHROPIC_THINKING,
         caps={**ANTHROPIC_CAPS, "tools": True, "vision": True, "json_schema": True,
               "prompt_caching": True, "reasoning": True},
         routes=[route("anthropic", "claude-sonnet-4-20250514",  # not in map
                       context_window=200000, max_output_tokens=64000, pricing=price(3.0, 15.0, 0.30)),
                 route("bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0",
                       "us.anthropic.claude-sonnet-4-20250514-v1:0")]),
    dict(id="claude-opus-4", name="Claude Opus 4", owned_by="anthropic", kind="chat",
         snapshot="claude-opus-4-20250514", released="2025-05-22", knowledge_cutoff="2025-01",
         modalities=(TEXT_IMAGE, TEXT), params=P_ANTHROPIC_THINKING,
         caps={**ANTHROPIC_CAPS, "tools": True, "vision": True, "json_schema": True,
               "prompt_caching": True, "reasoning": True},
         routes=[route("anthropic", "claude-opus-4-20250514",  # not in map
                       context_window=200000, max_output_tokens=32000, pricing=price(15.0, 75.0, 1.50)),
                 route("bedrock", "us.anthropic.claude-opus-4-20250514-v1:0",
                       "us.anthropic.claude-opus-4-20250514-v1:0")]),
    dict(id="claude-opus-4-1", name="Claude Opus 4.1", owned_by="anthropic", kind="chat",
         snapshot="claude-opus-4-1-20250805", released="2025-08-05", knowledge_cutoff="2025-01",
         modalities=(TEXT_IMAGE, TEXT), params=P_ANTHROPIC_THINKING,
         caps={**ANTHROPIC_CAPS, "tools": True, "vision": True, "json_schema": True,
               "prompt_caching": True, "reasoning": True},
         routes=[route("anthropic", "claude-opus-4-1-20250805",  # not in map
                       context_window=200000, max_output_tokens=32000, pricing=price(15.0, 75.0, 1.50)),
                 route("bedrock", "us.anthropic.claude-opus-4-1-20250805-v1:0",
                       "us.anthropic.claude-opus-4-1-20250805-v1:0")]),
    dict(id="claude-3-7-sonnet", name="Claude Sonnet 3.7", owned_by="anthropic", kind="chat",
         snapshot="claude-3-7-sonnet-20250219", released="2025-02-24", knowledge_cutoff="2024-10",
         modalities=(TEXT_IMAGE, TEXT), params=P_ANTHROPIC_THINKING,
         caps={**ANTHROPIC_CAPS, "tools": True, "vision": True, "json_schema": True,
               "prompt_caching": True, "reasoning": True},
         routes=[route("anthropic", "claude-3-7-sonnet-20250219",  # not in map
                       context_window=200000, max_output_tokens=64000, pricing=price(3.0, 15.0, 0.30)),
                 # Bedrock figures from the map, except max output: same model, same 64K limit.
                 route("bedrock", "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
                       "us.anthropic.claude-3-7-sonnet-20250219-v1:0", max_output_tokens=64000)]),
    # Vision left off: Bedrock serves Haiku 3.5 text-only and image input on Anthropic's API
    # could not be confirmed.
    dict(id="claude-3-5-haiku", name="Claude Haiku 3.5", owned_by="anthropic", kind="chat",
         snapshot="claude-3-5-haiku-20241022", released="2024-11-04", knowledge_cutoff="2024-07",
         modalities=(TEXT, TEXT), params=P_ANTHROPIC,
         caps={**ANTHROPIC_CAPS, "tools": True, "vision": False, "json_schema": True,
               "prompt_caching": True, "reasoning": False},
         routes=[route("anthropic", "claude-3-5-haiku-20241022",  # not in map
                       context_window=200000, max_output_tokens=8192, pricing=price(0.80, 4.0, 0.08)),
                 route("bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0",
                       "us.anthropic.claude-3-5-haiku-20241022-v1:0")]),

    # ---------------------------------------------------------------- Google
    # Prices are the <=200K-token prompt tier (2.5 Pro / 3.x Pro charge more above 200K).
    dict(id="gemini-2.5-pro", name="Gemini 2.5 Pro", owned_by="google", kind="chat",
         snapshot="gemini-2.5-pro", released="2025-06-17", knowledge_cutoff="2025-01",
         modalities=(GEMINI_IN, TEXT), params=P_GEMINI_THINKING, caps=GEMINI_CAPS,
         routes=[route("gemini", "gemini-2.5-pro", "gemini/gemini-2.5-pro")]),
    dict(id="gemini-2.5-flash", name="Gemini 2.5 Flash", owned_by="google", kind="chat",
         snapshot="gemini-2.5-flash", released="2025-06-17", knowledge_cutoff="2025-01",
         modalities=(GEMINI_IN, TEXT), params=P_GEMINI_THINKING, caps=GEMINI_CAPS,
         routes=[route("gemini", "gemini-2.5-flash", "gemini/gemini-2.5-flash")]),
    dict(id="gemini-2.5-flash-lite", name="Gemini 2.5 Flash-Lite", owned_by="google", kind="chat",
         snapshot="gemini-2.5-flash-lite", released="2025-07-22", knowledge_cutoff="2025-01",
         modalities=(GEMINI_IN, TEXT), params=P_GEMINI_THINKING, caps=GEMINI_CAPS,
         routes=[route("gemini", "gemini-2.5-flash-lite", "gemini/gemini-2.5-flash-lite")]),
    # The map only lists gemini-2.0-flash under Vertex AI; these are the Gemini API list prices.
    dict(id="gemini-2.0-flash", name="Gemini 2.0 Flash", owned_by="google", kind="chat",
         snapshot="gemini-2.0-flash-001", released="2025-02-05", knowledge_cutoff="2024-08",
         modalities=(GEMINI_IN, TEXT), params=P_GEMINI,
         caps={**GEMINI_CAPS, "tools": True, "vision": True, "json_schema": True, "prompt_caching": True,
               "reasoning": False},
         routes=[route("gemini", "gemini-2.0-flash",  # not in map
                       context_window=1048576, max_output_tokens=8192, pricing=price(0.10, 0.40, 0.025))]),
    dict(id="gemini-3-flash-preview", name="Gemini 3 Flash (preview)", owned_by="google", kind="chat",
         released="2025-12-17", knowledge_cutoff="2025-01",
         modalities=(GEMINI_IN, TEXT), params=P_GEMINI_THINKING, caps=GEMINI_CAPS,
         routes=[route("gemini", "gemini-3-flash-preview", "gemini/gemini-3-flash-preview")]),
    # Newer than the rest; figures from the map only (no dates).
    dict(id="gemini-3.1-pro-preview", name="Gemini 3.1 Pro (preview)", owned_by="google", kind="chat",
         modalities=(GEMINI_IN, TEXT), params=P_GEMINI_THINKING, caps=GEMINI_CAPS,
         routes=[route("gemini", "gemini-3.1-pro-preview", "gemini/gemini-3.1-pro-preview")]),

    # ---------------------------------------------------------------- Mistral
    # Dated ids where the map names the version; `-latest` aliases where it only names the alias.
    dict(id="mistral-large", name="Mistral Large 3", owned_by="mistral", kind="chat",
         snapshot="mistral-large-2512", released="2025-12-02",
         modalities=(TEXT_IMAGE, TEXT), params=P_MISTRAL, caps=MISTRAL_CAPS,
         routes=[route("mistral", "mistral-large-2512", "mistral/mistral-large-2512")]),
    dict(id="mistral-medium", name="Mistral Medium", owned_by="mistral", kind="chat",
         modalities=(TEXT_IMAGE, TEXT), params=P_MISTRAL_REASONING, caps=MISTRAL_CAPS,
         routes=[route("mistral", "mistral-medium-latest", "mistral/mistral-medium-latest")]),
    dict(id="mistral-small", name="Mistral Small", owned_by="mistral", kind="chat",
         modalities=(TEXT_IMAGE, TEXT), params=P_MISTRAL_REASONING, caps=MISTRAL_CAPS,
         routes=[route("mistral", "mistral-small-latest", "mistral/mistral-small-latest")]),
    dict(id="codestral", name="Codestral 25.08", owned_by="mistral", kind="chat",
         snapshot="codestral-2508",
         modalities=(TEXT, TEXT), params=P_MISTRAL, caps=MISTRAL_CAPS,
         routes=[route("mistral", "codestral-2508", "mistral/codestral-2508")]),
    dict(id="ministral-3b", name="Ministral 3 3B", owned_by="mistral", kind="chat",
         snapshot="ministral-3b-2512", released="2025-12-02",
         modalities=(TEXT_IMAGE, TEXT), params=P_MISTRAL, caps=MISTRAL_CAPS,
         routes=[route("mistral", "ministral-3b-2512", "mistral/ministral-3b-2512")]),
    dict(id="ministral-8b", name="Ministral 3 8B", owned_by="mistral", kind="chat",
         snapshot="ministral-8b-2512", released="2025-12-02",
         modalities=(TEXT_IMAGE, TEXT), params=P_MISTRAL, caps=MISTRAL_CAPS,
         routes=[route("mistral", "ministral-8b-2512", "mistral/ministral-8b-2512")]),
    dict(id="ministral-14b", name="Ministral 3 14B", owned_by="mistral", kind="chat",
         snapshot="ministral-14b-2512", released="2025-12-02",
         modalities=(TEXT_IMAGE, TEXT), params=P_MISTRAL, caps=MISTRAL_CAPS,
         routes=[route("mistral", "ministral-14b-2512", "mistral/ministral-14b-2512")]),

    # ---------------------------------------------------------------- DeepSeek
    # DeepSeek's API accepts response_format json_object only (no json_schema).
    dict(id="deepseek-chat", name="DeepSeek Chat", owned_by="deepseek", kind="chat",
         modalities=(TEXT, TEXT), params=P_DEEPSEEK_CHAT, caps={**DEEPSEEK_CAPS, "reasoning": False},
         routes=[route("deepseek", "deepseek-chat", "deepseek-chat")]),
    dict(id="deepseek-reasoner", name="DeepSeek Reasoner", owned_by="deepseek", kind="chat",
         modalities=(TEXT, TEXT), params=P_DEEPSEEK_REASONER, caps=DEEPSEEK_CAPS,
         routes=[route("deepseek", "deepseek-reasoner", "deepseek-reasoner")]),

    # ---------------------------------------------------------------- Meta Llama
    # The map has no Groq Llama entries; Groq figures are Groq's published prices and limits.
    dict(id="llama-3.3-70b", name="Llama 3.3 70B Instruct", owned_by="meta", kind="chat",
         released="2024-12-06", knowledge_cutoff="2023-12",
         modalities=(TEXT, TEXT), params=P_GROQ, caps={**LLAMA_CAPS, "vision": False, "json_schema": False},
         routes=[route("groq", "llama-3.3-70b-versatile",  # not in map
                       context_window=131072, max_output_tokens=32768, pricing=price(0.59, 0.79)),
                 route("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo",
                       "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo"),
                 route("bedrock", "us.meta.llama3-3-70b-instruct-v1:0", "us.meta.llama3-3-70b-instruct-v1:0",
                       caps=BEDROCK_LLAMA_CAPS, supported_parameters=P_BEDROCK)]),
    dict(id="llama-3.1-8b", name="Llama 3.1 8B Instruct", owned_by="meta", kind="chat",
         released="2024-07-23", knowledge_cutoff="2023-12",
         modalities=(TEXT, TEXT), params=P_GROQ, caps={**LLAMA_CAPS, "vision": False, "json_schema": False},
         routes=[route("groq", "llama-3.1-8b-instant",  # not in map
                       context_window=131072, max_output_tokens=131072, pricing=price(0.05, 0.08)),
                 route("together", "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
                       "together_ai/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"),
                 route("bedrock", "us.meta.llama3-1-8b-instruct-v1:0", "us.meta.llama3-1-8b-instruct-v1:0",
                       caps=BEDROCK_LLAMA_CAPS, supported_parameters=P_BEDROCK)]),
    # Groq serves Llama 4 with a 131,072-token window and supports json_schema for it.
    dict(id="llama-4-scout", name="Llama 4 Scout 17B-16E Instruct", owned_by="meta", kind="chat",
         released="2025-04-05", knowledge_cutoff="2024-08",
         modalities=(TEXT_IMAGE, TEXT), params=P_GROQ, caps={**LLAMA_CAPS, "vision": True, "json_schema": True},
         routes=[route("groq", "meta-llama/llama-4-scout-17b-16e-instruct",  # not in map
                       context_window=131072, max_output_tokens=8192, pricing=price(0.11, 0.34)),
                 route("together", "meta-llama/Llama-4-Scout-17B-16E-Instruct",
                       "together_ai/meta-llama/Llama-4-Scout-17B-16E-Instruct")]),
    dict(id="llama-4-maverick", name="Llama 4 Maverick 17B-128E Instruct", owned_by="meta", kind="chat",
         released="2025-04-05", knowledge_cutoff="2024-08",
         modalities=(TEXT_IMAGE, TEXT), params=P_GROQ, caps={**LLAMA_CAPS, "vision": True, "json_schema": True},
         routes=[route("groq", "meta-llama/llama-4-maverick-17b-128e-instruct",  # not in map
                       context_window=131072, max_output_tokens=8192, pricing=price(0.20, 0.60)),
                 route("together", "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8",  # not in map
                       context_window=1048576, pricing=price(0.27, 0.85)),
                 route("bedrock", "us.meta.llama4-maverick-17b-instruct-v1:0",
                       "us.meta.llama4-maverick-17b-instruct-v1:0",
                       caps=BEDROCK_LLAMA_CAPS, supported_parameters=P_BEDROCK)]),

    # ---------------------------------------------------------------- xAI
    # xAI publishes no separate output cap; max_output_tokens is the context window.
    # The map no longer lists grok-3 / grok-3-mini / grok-4 under the `xai` provider; those figures
    # are xAI's published prices (grok-4: the <=128K-token tier).
    dict(id="grok-4", name="Grok 4", owned_by="xai", kind="chat",
         snapshot="grok-4-0709", released="2025-07-09", knowledge_cutoff="2024-11",
         modalities=(TEXT_IMAGE, TEXT), params=P_XAI_REASONING,
         caps={**XAI_CAPS, "tools": True, "vision": True, "reasoning": True},
         routes=[route("xai", "grok-4",  # not in map
                       context_window=256000, max_output_tokens=256000, pricing=price(3.0, 15.0, 0.75))]),
    dict(id="grok-3", name="Grok 3", owned_by="xai", kind="chat",
         released="2025-02-17", knowledge_cutoff="2024-11",
         modalities=(TEXT, TEXT), params=P_XAI,
         caps={**XAI_CAPS, "tools": True, "vision": False, "reasoning": False},
         routes=[route("xai", "grok-3",  # not in map
                       context_window=131072, max_output_tokens=131072, pricing=price(3.0, 15.0, 0.75))]),
    dict(id="grok-3-mini", name="Grok 3 Mini", owned_by="xai", kind="chat",
         released="2025-02-17", knowledge_cutoff="2024-11",
         modalities=(TEXT, TEXT), params=P_XAI_REASONING + ["reasoning_effort"],
         caps={**XAI_CAPS, "tools": True, "vision": False, "reasoning": True},
         routes=[route("xai", "grok-3-mini",  # not in map
                       context_window=131072, max_output_tokens=131072, pricing=price(0.30, 0.50, 0.075))]),
    # Prices from the map (xAI's models endpoint); text-only model, so vision is left off.
    dict(id="grok-code-fast-1", name="Grok Code Fast 1", owned_by="xai", kind="chat",
         released="2025-08-28",
         modalities=(TEXT, TEXT), params=P_XAI_REASONING, caps={**XAI_CAPS, "vision": False},
         routes=[route("xai", "grok-code-fast-1", "xai/grok-code-fast-1")]),

    # ---------------------------------------------------------------- Amazon
    # Nova Micro/Lite/Pro support fine-tuning on Bedrock; Premier and Nova 2 need an inference profile.
    dict(id="nova-pro", name="Amazon Nova Pro", owned_by="amazon", kind="chat",
         snapshot="amazon.nova-pro-v1:0", released="2024-12-03",
         modalities=(TEXT_IMAGE_VIDEO, TEXT), params=P_BEDROCK_NOVA, caps={**NOVA_CAPS, "fine_tuning": True},
         routes=[route("bedrock", "amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0")]),
    dict(id="nova-lite", name="Amazon Nova Lite", owned_by="amazon", kind="chat",
         snapshot="amazon.nova-lite-v1:0", released="2024-12-03",
         modalities=(TEXT_IMAGE_VIDEO, TEXT), params=P_BEDROCK_NOVA, caps={**NOVA_CAPS, "fine_tuning": True},
         routes=[route("bedrock", "amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0")]),
    dict(id="nova-micro", name="Amazon Nova Micro", owned_by="amazon", kind="chat",
         snapshot="amazon.nova-micro-v1:0", released="2024-12-03",
         modalities=(TEXT, TEXT), params=P_BEDROCK_NOVA, caps={**NOVA_CAPS, "fine_tuning": True},
         routes=[route("bedrock", "amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0")]),
    dict(id="nova-premier", name="Amazon Nova Premier", owned_by="amazon", kind="chat",
         snapshot="amazon.nova-premier-v1:0", released="2025-04-30",
         modalities=(TEXT_IMAGE_VIDEO, TEXT), params=P_BEDROCK_NOVA, caps=NOVA_CAPS,
         routes=[route("bedrock", "us.amazon.nova-premier-v1:0", "amazon.nova-premier-v1:0")]),
    dict(id="nova-2-lite", name="Amazon Nova 2 Lite", owned_by="amazon", kind="chat",
         snapshot="amazon.nova-2-lite-v1:0",
         modalities=(TEXT_IMAGE_VIDEO, TEXT), params=P_BEDROCK_NOVA + ["reasoning_effort"], caps=NOVA_CAPS,
         routes=[route("bedrock", "us.amazon.nova-2-lite-v1:0", "us.amazon.nova-2-lite-v1:0")]),
]


# --- Building ---------------------------------------------------------------------------------

def per_million(cost_per_token: float) -> float:
    return round(cost_per_token * 1_000_000, 6)


def from_map(entry: dict, kind: str) -> dict:
    """Figures and capability flags of one price-map entry."""
    out: dict = {"caps": {}}
    if entry.get("max_input_tokens"):
        out["context_window"] = int(entry["max_input_tokens"])
    if kind == "chat" and entry.get("max_output_tokens"):
        out["max_output_tokens"] = int(entry["max_output_tokens"])
    p = {"input": per_million(entry["input_cost_per_token"])}
    cached = entry.get("cache_read_input_token_cost")
    if cached:
        p["cached_input"] = per_million(cached)
    written = entry.get("cache_creation_input_token_cost")
    if written:
        p["cache_write"] = per_million(written)
    p["output"] = per_million(entry.get("output_cost_per_token", 0.0))
    out["pricing"] = p
    for cap, flag in MAP_CAP_FLAGS.items():
        if flag in entry:
            out["caps"][cap] = bool(entry[flag])
    if cached and "prompt_caching" not in out["caps"]:
        out["caps"]["prompt_caching"] = True
    if "output_vector_size" in entry:
        out["dimensions"] = int(entry["output_vector_size"])
    return out


def resolve_route(spec: dict, r: dict, prices: dict) -> dict:
    """Full figures of one route: map entry, then model spec, then route spec."""
    got: dict = {"caps": {}}
    if r["key"] is not None:
        if r["key"] not in prices:
            raise SystemExit(f"{spec['id']}: key {r['key']!r} not in the price map")
        got = from_map(prices[r["key"]], spec["kind"])
    caps = {k: False for k in CAP_KEYS}
    caps.update(got["caps"])
    caps.update(spec.get("caps", {}))
    caps.update(r.get("caps", {}))
    full = {
        "context_window": r.get("context_window", got.get("context_window")),
        "max_output_tokens": r.get("max_output_tokens", got.get("max_output_tokens")),
        "pricing": r.get("pricing", got.get("pricing")),
        "capabilities": caps,
        "supported_parameters": list(r.get("supported_parameters", spec["params"])),
        "modalities": {"input": list(spec["modalities"][0]), "output": list(spec["modalities"][1])},
        "dimensions": got.get("dimensions"),
    }
    if "modalities" in r:
        full["modalities"] = r["modalities"]
    pricing = full["pricing"]
    if spec["owned_by"] == "anthropic" and pricing and "cache_write" not in pricing:
        # Anthropic bills a (5-minute) prompt-cache write at 1.25 times the input price, on its API and Bedrock.
        priced = {**pricing, "cache_write": round(pricing["input"] * 1.25, 6)}
        full["pricing"] = {k: priced[k] for k in ("input", "cached_input", "cache_write", "output") if k in priced}
    if spec["kind"] == "embedding":
        full["max_output_tokens"] = None
    return full


def build(prices: dict) -> dict:
    models = []
    for spec in MODELS:
        routes = [resolve_route(spec, r, prices) for r in spec["routes"]]
        primary = routes[0]
        # Model-level overrides of the primary route's figures (e.g. GPT-5's documented window).
        for field in ("context_window", "max_output_tokens"):
            if field in spec:
                primary[field] = spec[field]
                for other in routes[1:]:
                    other[field] = other[field] if other[field] is not None else spec[field]
        m: dict = {"id": spec["id"], "name": spec["name"], "owned_by": spec["owned_by"], "kind": spec["kind"]}
        for opt in ("snapshot", "released", "knowledge_cutoff"):
            if spec.get(opt):
                m[opt] = spec[opt]
        m["context_window"] = primary["context_window"]
        if spec["kind"] == "chat":
            m["max_output_tokens"] = primary["max_output_tokens"]
        m["pricing"] = primary["pricing"]
        m["modalities"] = primary["modalities"]
        m["capabilities"] = primary["capabilities"]
        m["supported_parameters"] = primary["supported_parameters"]
        if spec["kind"] == "embedding":
            m["dimensions"] = spec.get("dimensions", primary["dimensions"])
        m["routes"] = []
        for r, full in zip(spec["routes"], routes):
            ro: dict = {"provider": r["provider"], "model": r["model"]}
            if full is not primary:
                for field in ("context_window", "max_output_tokens", "pricing"):
                    if full[field] is not None and full[field] != primary[field]:
                        ro[field] = full[field]
                diff = {k: v for k, v in full["capabilities"].items() if primary["capabilities"][k] != v}
                if diff:
                    ro["capabilities"] = diff
                if full["supported_parameters"] != primary["supported_parameters"]:
                    ro["supported_parameters"] = full["supported_parameters"]
                if full["modalities"] != primary["modalities"]:
                    ro["modalities"] = full["modalities"]
            m["routes"].append(ro)
        models.append(m)
    models.sort(key=lambda m: (m["owned_by"], m["id"]))
    return {"version": 1, "models": models}


# --- Validation -------------------------------------------------------------------------------

GPT_4O_MINI = {
    "id": "gpt-4o-mini", "name": "GPT-4o mini", "owned_by": "openai", "kind": "chat",
    "snapshot": "gpt-4o-mini-2024-07-18", "released": "2024-07-18", "knowledge_cutoff": "2023-10-01",
    "context_window": 128000, "max_output_tokens": 16384,
    "pricing": {"input": 0.15, "cached_input": 0.075, "output": 0.60},
    "modalities": {"input": ["text", "image"], "output": ["text"]},
    "capabilities": {"streaming": True, "tools": True, "parallel_tool_calls": True, "vision": True,
                     "json_mode": True, "json_schema": True, "prompt_caching": True, "reasoning": False,
                     "batch": True, "fine_tuning": True},
    "supported_parameters": P_OPENAI,
    "routes": [{"provider": "openai", "model": "gpt-4o-mini"}],
}
DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


def validate(catalog: dict) -> list[str]:
    errors: list[str] = []
    ids = [m["id"] for m in catalog["models"]]
    if len(ids) != len(set(ids)):
        errors.append("duplicate ids")
    if catalog["models"] != sorted(catalog["models"], key=lambda m: (m["owned_by"], m["id"])):
        errors.append("models not sorted by owned_by, id")

    def positive(where: str, value, allow_zero=False):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or (value == 0 and not allow_zero):
            errors.append(f"{where}: not a positive number: {value!r}")

    def check_pricing(where: str, p: dict, kind: str):
        positive(f"{where}.input", p.get("input"))
        positive(f"{where}.output", p.get("output"), allow_zero=(kind == "embedding"))
        if kind == "embedding" and p.get("output") != 0:
            errors.append(f"{where}.output: embeddings price output at 0")
        for optional in ("cached_input", "cache_write"):
            if optional in p:
                positive(f"{where}.{optional}", p[optional])
        if set(p) - {"input", "cached_input", "cache_write", "output"}:
            errors.append(f"{where}: unknown pricing keys")

    for m in catalog["models"]:
        w = m["id"]
        if m["owned_by"] not in OWNERS:
            errors.append(f"{w}: bad owned_by")
        if m["kind"] not in ("chat", "embedding"):
            errors.append(f"{w}: bad kind")
        for opt in ("released", "knowledge_cutoff"):
            if opt in m and not DATE.match(m[opt]):
                errors.append(f"{w}: bad {opt}")
        positive(f"{w}.context_window", m.get("context_window"))
        if m["kind"] == "chat":
            positive(f"{w}.max_output_tokens", m.get("max_output_tokens"))
            if m["max_output_tokens"] > m["context_window"]:
                errors.append(f"{w}: max_output_tokens above context_window")
        else:
            if "max_output_tokens" in m:
                errors.append(f"{w}: embedding with max_output_tokens")
            positive(f"{w}.dimensions", m.get("dimensions"))
            if m["modalities"]["output"] != ["embedding"]:
                errors.append(f"{w}: embedding output modality")
        check_pricing(f"{w}.pricing", m["pricing"], m["kind"])
        if list(m["capabilities"]) != CAP_KEYS or not all(isinstance(v, bool) for v in m["capabilities"].values()):
            errors.append(f"{w}: capabilities must be the ten booleans")
        if not m["supported_parameters"] or len(set(m["supported_parameters"])) != len(m["supported_parameters"]):
            errors.append(f"{w}: supported_parameters empty or duplicated")
        if not m["routes"]:
            errors.append(f"{w}: no routes")
        seen = set()
        for i, r in enumerate(m["routes"]):
            rw = f"{w}.routes[{i}]"
            if r["provider"] not in PROVIDERS:
                errors.append(f"{rw}: bad provider")
            if (r["provider"], r["model"]) in seen:
                errors.append(f"{rw}: duplicate route")
            seen.add((r["provider"], r["model"]))
            for f in ("context_window", "max_output_tokens"):
                if f in r:
                    positive(f"{rw}.{f}", r[f])
            if "pricing" in r:
                check_pricing(f"{rw}.pricing", r["pricing"], m["kind"])
            if set(r) - {"provider", "model", "context_window", "max_output_tokens", "pricing",
                         "capabilities", "supported_parameters", "modalities"}:
                errors.append(f"{rw}: unknown keys")
    mini = next((m for m in catalog["models"] if m["id"] == "gpt-4o-mini"), None)
    if mini != GPT_4O_MINI:
        errors.append("gpt-4o-mini does not match the product contract")
    if len(catalog["models"]) < 45:
        errors.append("fewer than 45 models")
    return errors


# --- Output -----------------------------------------------------------------------------------

def dump(value, indent: int = 0) -> str:
    """JSON with two-space indent; arrays of scalars and small flat objects stay on one line."""
    pad = "  " * indent
    inner = "  " * (indent + 1)
    scalar = lambda v: not isinstance(v, (dict, list))  # noqa: E731
    if isinstance(value, list):
        if all(scalar(v) for v in value):
            one_line = "[" + ", ".join(json.dumps(v) for v in value) + "]"
            if len(pad) + len(one_line) <= 100:
                return one_line
            # Long scalar arrays (supported_parameters): several items per line, wrapped at 100.
            lines, line = [], ""
            for item in (json.dumps(v) for v in value):
                if line and len(inner) + len(line) + len(item) + 2 > 100:
                    lines.append(line.rstrip())
                    line = ""
                line += item + ", "
            lines.append(line.rstrip(", "))
            return "[\n" + ",\n".join(inner + ln.rstrip(",") for ln in lines) + "\n" + pad + "]"
        return "[\n" + ",\n".join(inner + dump(v, indent + 1) for v in value) + "\n" + pad + "]"
    if isinstance(value, dict):
        flat = all(scalar(v) or (isinstance(v, list) and all(scalar(x) for x in v)) for v in value.values())
        one_line = "{" + ", ".join(f"{json.dumps(k)}: {dump(v)}" for k, v in value.items()) + "}"
        if flat and len(one_line) + len(pad) <= 100 and len(value) <= 4:
            return one_line
        return "{\n" + ",\n".join(f"{inner}{json.dumps(k)}: {dump(v, indent + 1)}" for k, v in value.items()) + "\n" + pad + "}"
    return json.dumps(value)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prices", type=Path, default=DEFAULT_PRICES, help="LiteLLM model_prices JSON")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="verify the file on disk is up to date; write nothing")
    args = ap.parse_args()

    prices = json.loads(args.prices.read_text())
    catalog = build(prices)
    errors = validate(catalog)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    text = dump(catalog) + "\n"
    assert json.loads(text) == catalog
    if args.check:
        if args.out.read_text() != text:
            print(f"{args.out} is out of date", file=sys.stderr)
            return 1
    else:
        args.out.write_text(text)
    counts: dict[str, int] = {}
    for m in catalog["models"]:
        counts[m["owned_by"]] = counts.get(m["owned_by"], 0) + 1
    print(f"{len(catalog['models'])} models: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
