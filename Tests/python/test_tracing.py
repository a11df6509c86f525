"""Traces end to end: the real binary exports its spans over OTLP/HTTP (JSON) to a collector on loopback.

The client sends a W3C ``traceparent``; the gateway's request span must continue that trace, its
upstream attempt span must be the parent the fake OpenAI upstream receives in its own ``traceparent``,
and the spans must carry the GenAI attributes. A gateway stopped with SIGTERM right after a call still
exports that call's spans. Without a ``tracing`` section no span is exported and nothing is sent upstream.
"""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from fake_providers import FakeOpenAI
from test_operations import _binary, running_gateway

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"

CONFIG = """\
listen: 127.0.0.1:{{port}}
store: memory
providers:
  up: {{{{type: openai, base_url: '{upstream}/v1', api_key: sk-test}}}}
models:
  traced:
    routes:
      - {{{{provider: up, model: gpt-4o-mini}}}}
{tracing}
"""


class Collector:
    """An OTLP/HTTP receiver that keeps every span of every JSON export it is sent."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.resources: list[dict[str, Any]] = []
        self.content_types: list[str] = []
        lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with lock:
                    collector.content_types.append(self.headers.get("content-type", ""))
                    export = json.loads(body)
                    for resource_spans in export.get("resourceSpans", []):
                        collector.resources.append(resource_spans.get("resource", {}))
                        for scope in resource_spans.get("scopeSpans", []):
                            collector.spans.extend(scope.get("spans", []))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.spans) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.spans)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector()
    yield collector
    collector.close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    yield fake
    fake.close()


def _hex_id(value: str) -> str:
    """OTLP/JSON ids are hex; accept base64 (protobuf's JSON mapping) too."""
    if all(c in "0123456789abcdef" for c in value.lower()):
        return value.lower()
    return base64.b64decode(value).hex()


def _attributes(span: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attribute in span.get("attributes", []):
        value = attribute["value"]
        if "stringValue" in value:
            values[attribute["key"]] = value["stringValue"]
        elif "intValue" in value:
            values[attribute["key"]] = int(value["intValue"])
        elif "doubleValue" in value:
            values[attribute["key"]] = float(value["doubleValue"])
        elif "boolValue" in value:
            values[attribute["key"]] = value["boolValue"]
        elif "arrayValue" in value:
            values[attribute["key"]] = [next(iter(v.values())) for v in value["arrayValue"].get("values", [])]
    return values


def _chat(port: int, stream: bool = False, traceparent: str | None = None) -> bytes:
    body = {"model": "traced", "messages": [{"role": "user", "content": "trace me"}], "stream": stream}
    headers = {"content-type": "application/json"}
    if traceparent:
        headers["traceparent"] = traceparent
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions",
                                     data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return response.read()


def _config(upstream: FakeOpenAI, tracing: str) -> str:
    return CONFIG.format(upstream=upstream.url, tracing=tracing)


def test_the_client_trace_continues_through_the_gateway_to_the_upstream(
        collector: Collector, upstream: FakeOpenAI) -> None:
    upstream.requests.clear()
    tracing = f"tracing: {{{{endpoint: '{collector.url}', protocol: http/json, service_name: gw-under-test}}}}"
    with running_gateway(_config(upstream, tracing)) as (_, port, _):
        _chat(port, traceparent=f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01")
        spans = collector.wait_for(2)
    assert len(spans) == 2, spans
    assert all(kind.startswith("application/json") for kind in collector.content_types)
    server = next(span for span in spans if span["kind"] in (2, "SPAN_KIND_SERVER"))
    attempt = next(span for span in spans if span["kind"] in (3, "SPAN_KIND_CLIENT"))

    # The request span continues the client's trace; the attempt is its child.
    assert _hex_id(server["traceId"]) == CLIENT_TRACE
    assert _hex_id(server["parentSpanId"]) == CLIENT_SPAN
    assert _hex_id(attempt["traceId"]) == CLIENT_TRACE
    assert _hex_id(attempt["parentSpanId"]) == _hex_id(server["spanId"])

    # The upstream saw the attempt as its parent.
    sent = upstream.requests[-1].headers.get("traceparent", "")
    version, trace, parent, flags = sent.split("-")
    assert (version, trace, parent, flags) == ("00", CLIENT_TRACE, _hex_id(attempt["spanId"]), "01")

    assert server["name"] == "chat traced"
    attributes = _attributes(server)
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "traced"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.usage.input_tokens"] > 0 and attributes["gen_ai.usage.output_tokens"] > 0
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert attributes["http.response.status_code"] == 200
    assert _attributes(attempt)["gen_ai.provider.name"] == "openai"
    assert _attributes(attempt)["switchyard.route"] == "up/gpt-4o-mini"
    service = {a["key"]: a["value"].get("stringValue") for r in collector.resources for a in r.get("attributes", [])}
    assert service.get("service.name") == "gw-under-test"


def test_a_call_without_traceparent_starts_a_new_trace_and_sigterm_flushes_it(
        collector: Collector, upstream: FakeOpenAI) -> None:
    tracing = f"tracing: {{{{endpoint: '{collector.url}', protocol: http/json}}}}"
    with running_gateway(_config(upstream, tracing)) as (process, port, _):
        _chat(port, stream=True)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        spans = collector.wait_for(2, timeout=1.0)
    assert len(spans) == 2, "the spans of a call finished before SIGTERM were not exported"
    server = next(span for span in spans if span["kind"] in (2, "SPAN_KIND_SERVER"))
    assert not server.get("parentSpanId")
    assert _attributes(server)["switchyard.stream"] is True
    assert _attributes(server)["gen_ai.response.finish_reasons"] == ["stop"]


def test_a_collector_that_never_answers_delays_shutdown_a_few_seconds_at_most(upstream: FakeOpenAI) -> None:
    # A socket that listens but never reads: the export hangs until its timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}/v1/traces"
    try:
        with running_gateway(_config(upstream, f"tracing: {{{{endpoint: '{endpoint}'}}}}")) as (process, port, _):
            _chat(port)
            _chat(port, stream=True)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
            assert time.monotonic() - started < 6.0
    finally:
        silent.close()


def test_without_a_tracing_section_nothing_is_traced(collector: Collector, upstream: FakeOpenAI) -> None:
    upstream.requests.clear()
    with running_gateway(_config(upstream, "")) as (_, port, _):
        _chat(port, traceparent=f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01")
        time.sleep(1.5)
    assert collector.spans == []
    assert "traceparent" not in upstream.requests[-1].headers


def test_a_bad_tracing_section_is_refused_with_the_key_named(upstream: FakeOpenAI) -> None:
    for section, message in [
        ("tracing: {endpoint: 'ftp://collector'}", "`tracing.endpoint`"),
        ("tracing: {endpoint: 'http://127.0.0.1:4318/v1/traces', sample_ratio: 2}", "`tracing.sample_ratio`"),
        ("tracing: {endpoint: 'http://127.0.0.1:4318/v1/traces', protocol: grpc}", "`tracing.protocol`"),
        ("tracing: {endpont: 'http://127.0.0.1:4318/v1/traces'}", "endpont"),
    ]:
        path = Path(tempfile.mkdtemp(prefix="switchyard-trace-")) / "switchyard.yaml"
        escaped = section.replace("{", "{{").replace("}", "}}")
        path.write_text(_config(upstream, escaped).format(port=1))
        result = subprocess.run([_binary(), "check-config", str(path)], capture_output=True, text=True, timeout=30)
        assert result.returncode != 0, section
        assert message in result.stdout + result.stderr, (section, result.stdout + result.stderr)
