"""The Grafana dashboard (``deploy/grafana/switchyard.json``) against the metrics the gateway really exposes.

The dashboard is checked as a file (importable: every data source is the ``datasource`` variable, the
``model`` and ``provider`` variables are there) and against ``GET /metrics`` of the real binary
(``SWITCHYARD_BIN``): every metric a query names must be a series the gateway exposes, every label
its selectors, groupings and legends name must be on that metric, and the ``model`` and ``provider``
variables must filter every metric that has those labels.

The series come from two gateways, each on a free loopback port and stopped by PID: one on its
embedded default (no config file; the simulator answers the catalog's models), which gets a plain
call, a streamed call and a call for an unknown model (404); and one with a config whose model
``flaky`` tries a provider that refuses connections before the simulator, so
``switchyard_upstream_errors_total`` has a series, and whose answers are cached, so a second call is a
hit and ``switchyard_cache_saved_usd_total`` has one too.

``SWITCHYARD_DASHBOARD`` names another dashboard file to check (to see the test fail on a broken copy).
Only the standard library and ``pytest`` are used.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from test_operations import running_gateway

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = Path(os.environ.get("SWITCHYARD_DASHBOARD") or REPO / "deploy" / "grafana" / "switchyard.json")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Labels Prometheus adds when it scrapes: a legend may name them, /metrics never has them.
SCRAPE_LABELS = {"instance", "job"}

# A model whose first route refuses connections (the port is filled in) and whose second answers.
FLAKY_CONFIG = """\
listen: 127.0.0.1:{{port}}
store: memory
providers:
  dead: {{{{type: openai, base_url: '{refused_url}', api_key: sk-test}}}}
  simulator: {{{{type: simulator, ttft: 0ms, tokens_per_second: 100000}}}}
models:
  flaky:
    strategy: fallback
    routes:
      - {{{{provider: dead, model: gpt-4o-mini}}}}
      - {{{{provider: simulator, model: gpt-4o-mini, pricing: {{{{input: 1, output: 1}}}}}}}}
    cooldown: off
cache:
  mode: exact
"""


# The exposition ----------------------------------------------------------------------------------


@dataclass
class Exposition:
    """What ``GET /metrics`` showed: each series name with the label names seen on it, and the declared types."""

    labels: dict[str, set[str]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)

    def add(self, text: str) -> None:
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(maxsplit=3)
                self.types[name] = kind
            elif line and not line.startswith("#"):
                match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s", line)
                assert match, f"unparsable /metrics line: {line!r}"
                names = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"', match.group(2) or "")
                self.labels.setdefault(match.group(1), set()).update(names)

    def family(self, series: str) -> str:
        """The metric a series belongs to: a histogram's name without ``_bucket``, ``_sum`` or ``_count``."""
        for suffix in HISTOGRAM_SUFFIXES:
            base = series.removesuffix(suffix)
            if base != series and self.types.get(base) == "histogram":
                return base
        return series


def _fetch(url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, str], str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def _chat(port: int, model: str, *, stream: bool = False) -> tuple[int, dict[str, str], str]:
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": "Name a switchyard."}]}
    return _fetch(f"http://127.0.0.1:{port}/v1/chat/completions", body)


def _metrics(port: int) -> str:
    status, _, text = _fetch(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, text
    return text


@pytest.fixture(scope="module")
def exposition() -> Exposition:
    exposed = Exposition()
    with running_gateway(None) as (_, port, _dir):
        status, _, body = _chat(port, "gpt-4o-mini")
        assert status == 200, body
        status, _, body = _chat(port, "gpt-4o-mini", stream=True)
        assert status == 200 and body.rstrip().endswith("data: [DONE]"), body
        status, _, body = _chat(port, "no-such-model")
        assert status == 404, body
        status, _, body = _fetch(f"http://127.0.0.1:{port}/no-such-path")
        assert status == 404, body
        exposed.add(_metrics(port))
    # The embedded default always has the request log's metrics, before any failure.
    assert {"switchyard_request_log_dropped_total", "switchyard_request_log_queue_bytes"} <= exposed.labels.keys()

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as refused:
        # Bound, so nobody else takes the port, but not listening: connections are refused.
        refused.bind(("127.0.0.1", 0))
        config = FLAKY_CONFIG.format(refused_url=f"http://127.0.0.1:{refused.getsockname()[1]}/v1")
        with running_gateway(config) as (_, port, _dir):
            status, headers, body = _chat(port, "flaky")
            assert status == 200 and headers.get("x-switchyard-provider") == "simulator", body
            # The answer is stored off the request path: ask again until the cache answers.
            for _ in range(100):
                status, headers, body = _chat(port, "flaky")
                if headers.get("x-switchyard-cache") == "hit":
                    break
                time.sleep(0.02)
            assert headers.get("x-switchyard-cache") == "hit", headers
            exposed.add(_metrics(port))
    assert {"switchyard_upstream_errors_total", "switchyard_cache_saved_usd_total"} <= exposed.labels.keys()
    return exposed


# The dashboard -----------------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    with open(path) as file:
        return json.load(file)


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def _queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each panel's title with each of its targets that has an expression."""
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield panel.get("title", f"panel {panel.get('id')}"), target


def _datasources(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every ``datasource`` value anywhere in the dashboard, with a path to it."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield where, value
            else:
                yield from _datasources(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            label = value.get("title") or value.get("name") if isinstance(value, dict) else None
            yield from _datasources(value, f"{where}[{label or index}]")


# PromQL: just enough of it to find metric names, their matchers and the labels of groupings -------


TOKEN = re.compile(
    r"""
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<range>\[[^\]]*\])
    | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<op>=~|!~|!=|==|>=|<=|[{}(),=<>+\-*/^%])
    | (?P<space>\s+)
    | (?P<other>.)
    """,
    re.VERBOSE,
)
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = GROUPING | {"and", "or", "unless", "bool", "offset", "inf", "nan"}


@dataclass
class Query:
    """What one expression refers to."""

    metrics: list[str] = field(default_factory=list)
    matchers: list[tuple[str, str, str, str]] = field(default_factory=list)  # metric, label, op, value
    grouping: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def parse(expr: str) -> Query:
    tokens = [(m.lastgroup, m.group()) for m in TOKEN.finditer(expr) if m.lastgroup != "space"]
    query = Query()
    index = 0

    def at(offset: int) -> tuple[str | None, str]:
        return tokens[index + offset] if index + offset < len(tokens) else (None, "")

    while index < len(tokens):
        kind, text = tokens[index]
        if kind == "other":
            query.errors.append(f"unexpected {text!r}")
        elif kind == "op" and text == "{":
            query.errors.append("a selector without a metric name")
        elif kind == "ident" and (at(1)[1] == "(" or at(1)[1] in ("by", "without")):
            # `sum by (label) (...)`: the aggregation, then its grouping.
            if text in GROUPING:
                index += 2
                while index < len(tokens) and tokens[index][1] != ")":
                    if tokens[index][0] == "ident":
                        query.grouping.append(tokens[index][1])
                    index += 1
            # Otherwise a function or an aggregation: its arguments follow.
        elif kind == "ident" and text.lower() not in KEYWORDS:
            query.metrics.append(text)
            if at(1)[1] == "{":
                index += 2
                while index < len(tokens) and tokens[index][1] != "}":
                    (label_kind, label), (_, op), (value_kind, value) = at(0), at(1), at(2)
                    if label_kind != "ident" or op not in ("=", "!=", "=~", "!~") or value_kind != "string":
                        query.errors.append(f"unparsable matcher in {text}{{...}} near {label!r}")
                        break
                    query.matchers.append((text, label, op, value[1:-1]))
                    index += 3
                    if at(0)[1] == ",":
                        index += 1
        index += 1
    return query


def dashboard_problems(path: Path, exposed: Exposition) -> list[str]:
    """What in the dashboard at ``path`` the exposition does not back, one line per problem, naming the panel."""
    problems: list[str] = []
    for title, target in _queries(_load(path)):
        expr = target["expr"]
        query = parse(expr)
        problems += [f"panel {title!r}: {error} in `{expr}`" for error in query.errors]
        if not query.metrics:
            problems.append(f"panel {title!r}: no metric in `{expr}`")
        known: set[str] = set()
        for metric in query.metrics:
            family = exposed.family(metric)
            if metric in exposed.labels:
                known |= exposed.labels[metric]
            elif f"{metric}_bucket" in exposed.labels:
                problems.append(f"panel {title!r}: histogram `{metric}` is used without _bucket, _sum or _count")
            elif family != metric:
                problems.append(f"panel {title!r}: metric `{metric}` is not exposed (histogram `{family}` is)")
            else:
                problems.append(f"panel {title!r}: metric `{metric}` is not exposed by /metrics")
        for metric, label, _, _ in query.matchers:
            if metric in exposed.labels and label not in exposed.labels[metric]:
                problems.append(
                    f"panel {title!r}: label `{label}` is not on `{metric}` "
                    f"(it has {sorted(exposed.labels[metric])})"
                )
        metrics = " ".join(f"`{m}`" for m in query.metrics)
        for label in query.grouping:
            if known and label not in known:
                problems.append(f"panel {title!r}: grouping label `{label}` is on none of {metrics}")
        for label in re.findall(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", target.get("legendFormat", "")):
            if known and label not in known | SCRAPE_LABELS:
                problems.append(f"panel {title!r}: legend label `{label}` is on none of {metrics}")
    return problems


def variable_problems(path: Path, exposed: Exposition) -> list[str]:
    """Selectors of metrics with a model or provider label that do not filter by ``$model`` and ``$provider``."""
    problems: list[str] = []
    for title, target in _queries(_load(path)):
        query = parse(target["expr"])
        for metric in dict.fromkeys(query.metrics):
            labels = exposed.labels.get(metric, set())
            model_label = "gen_ai_request_model" if "gen_ai_request_model" in labels else "model"
            wanted = [(name, var) for name, var in ((model_label, "$model"), ("provider", "$provider")) if name in labels]
            # Each occurrence of the metric must filter, not just one of them.
            occurrences = sum(1 for m in query.metrics if m == metric)
            for name, var in wanted:
                filtered = sum(1 for m, label, op, value in query.matchers
                               if m == metric and label == name and op == "=~" and value == var)
                if filtered < occurrences:
                    problems.append(f'panel {title!r}: `{metric}` is not filtered by {name}=~"{var}"')
    return problems


# Tests -------------------------------------------------------------------------------------------


def test_the_dashboard_is_importable_and_uses_the_datasource_variable() -> None:
    dashboard = _load(DASHBOARD)
    assert dashboard["title"] == "Switchyard"
    assert dashboard["schemaVersion"] == 39
    assert dashboard.get("id") is None, "an exported id makes Import overwrite another dashboard"
    assert "__inputs" not in dashboard, "the data source is the `datasource` variable, not an import input"

    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("model", "provider"):
        variable = variables[name]
        query = variable["query"]
        query = query["query"] if isinstance(query, dict) else query
        assert variable["type"] == "query", name
        assert query == f"label_values(switchyard_requests_total, {name})", name
        assert variable["multi"] and variable["includeAll"], name
        assert variable["datasource"] == DATASOURCE, name

    bad = [f"{where}: {value!r}" for where, value in _datasources(dashboard, "dashboard") if value != DATASOURCE]
    assert not bad, "data sources other than the `datasource` variable:\n" + "\n".join(bad)

    seen_ids: set[int] = set()
    areas: list[tuple[str, dict[str, int]]] = []
    for panel in _panels(dashboard):
        title = panel.get("title", "?")
        assert panel["id"] not in seen_ids, f"panel {title!r}: duplicate id {panel['id']}"
        seen_ids.add(panel["id"])
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, f"panel {title!r}: {grid}"
        for other_title, other in areas:
            overlaps = (grid["x"] < other["x"] + other["w"] and other["x"] < grid["x"] + grid["w"]
                        and grid["y"] < other["y"] + other["h"] and other["y"] < grid["y"] + grid["h"])
            assert not overlaps, f"panels {title!r} and {other_title!r} overlap"
        areas.append((title, grid))
        if panel["type"] == "row":
            continue
        assert panel.get("datasource") == DATASOURCE, f"panel {title!r}: datasource {panel.get('datasource')!r}"
        assert panel.get("targets"), f"panel {title!r} has no query"
        for target in panel["targets"]:
            assert target.get("datasource") == DATASOURCE, f"panel {title!r}, target {target.get('refId')}"
            assert target.get("expr"), f"panel {title!r}, target {target.get('refId')}: no expression"


def test_every_query_names_metrics_and_labels_the_gateway_exposes(exposition: Exposition) -> None:
    problems = dashboard_problems(DASHBOARD, exposition)
    assert not problems, f"{DASHBOARD} does not match /metrics:\n" + "\n".join(problems)


def test_queries_filter_by_the_model_and_provider_variables(exposition: Exposition) -> None:
    problems = variable_problems(DASHBOARD, exposition)
    assert not problems, f"{DASHBOARD}:\n" + "\n".join(problems)


def test_a_misspelled_metric_or_label_is_reported(exposition: Exposition, tmp_path: Path) -> None:
    # The checker itself: a dashboard with a typo must not pass.
    text = DASHBOARD.read_text()
    assert "switchyard_requests_total{" in text and "gen_ai_token_type" in text
    broken = tmp_path / "broken.json"
    broken.write_text(
        text.replace("switchyard_requests_total{", "switchyard_request_total{", 1)
        .replace("by (gen_ai_token_type)", "by (gen_ai_tokens_type)", 1)
        .replace("gen_ai_server_time_to_first_token_seconds_bucket", "gen_ai_server_time_to_first_token_seconds", 1)
    )
    problems = "\n".join(dashboard_problems(broken, exposition))
    assert "metric `switchyard_request_total` is not exposed" in problems
    assert "grouping label `gen_ai_tokens_type`" in problems
    assert "histogram `gen_ai_server_time_to_first_token_seconds` is used without _bucket" in problems
    assert "panel 'Requests/s'" in problems and "panel 'Tokens/s by type'" in problems
