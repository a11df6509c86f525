"""Soak test: mixed traffic at a fixed rate against the real binary, then a SIGTERM under load.

Run through ``scripts/soak``. Standard library only. Reports RSS over time, request-log rows against
requests answered, crashes and success rate, and exits non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CONFIG = """\
listen: 127.0.0.1:{port}
store: sqlite:{dir}/soak.db
providers:
  simulator:
    type: simulator
    ttft: 50ms
    tokens_per_second: 400
    failure_rate: {failure_rate}
    failures: [rate_limit, server_error, timeout, broken_stream]
models:
  soak:
    routes: [{{provider: simulator, model: gpt-4o-mini}}]
    timeouts: {{first_token: 2s, total: 30s}}
retries: {{attempts: 2, initial_backoff: 50ms, max_backoff: 2s}}
request_log: {{flush_interval: 200ms}}
"""


@dataclass
class Outcome:
    """What one request got."""

    kind: str  # "ok", "error" (an HTTP error or an SSE error event), "hung_up", "refused", "broken"
    request_id: str | None = None
    status: int | None = None


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def one_request(port: int, stream: bool, hang_up: bool, index: int) -> Outcome:
    body = json.dumps(
        {
            "model": "soak",
            "stream": stream,
            "messages": [{"role": "user", "content": f"soak request {index} {random.random()}"}],
        }
    )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/v1/chat/completions", body=body, headers={"content-type": "application/json"})
        response = connection.getresponse()
        request_id = response.getheader("x-switchyard-request-id")
        if response.status != 200:
            response.read()
            return Outcome("error", request_id, response.status)
        if not stream:
            json.loads(response.read())
            return Outcome("ok", request_id, 200)
        if hang_up:
            response.read1(64)  # the stream has started; now hang up
            connection.sock.close()
            return Outcome("hung_up", request_id, 200)
        text = response.read().decode()
        if text.rstrip().endswith("data: [DONE]"):
            return Outcome("ok", request_id, 200)
        if '"error"' in text:
            return Outcome("error", request_id, 200)
        return Outcome("broken", request_id, 200)
    except ConnectionRefusedError:
        return Outcome("refused")
    except (OSError, http.client.HTTPException):
        return Outcome("broken")
    finally:
        connection.close()


def drive(port: int, rate: float, seconds: float, tally: Tally, on_tick=None) -> int:
    """Starts `rate` requests a second for `seconds`; returns how many were started."""
    started = 0
    begin = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=256) as pool:
        while (now := time.monotonic()) - begin < seconds:
            due = int((now - begin) * rate)
            while started < due:
                stream = random.random() < 0.5
                hang_up = stream and random.random() < 0.2  # 10% of all requests
                future = pool.submit(one_request, port, stream, hang_up, started)
                future.add_done_callback(lambda done: tally.add(done.result()))
                started += 1
            if on_tick:
                on_tick(now - begin)
            time.sleep(0.005)
    return started


def log_rows(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT id, count(*) FROM request_log GROUP BY id").fetchall()
    return dict(rows)


def start(binary: str, workdir: Path, failure_rate: float) -> tuple[subprocess.Popen, int]:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = workdir / "soak.yaml"
    config.write_text(CONFIG.format(port=port, dir=workdir, failure_rate=failure_rate))
    log = open(workdir / "gateway.log", "ab")
    process = subprocess.Popen([binary, "serve", "--config", str(config)], cwd=workdir, stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the gateway did not start; see {workdir / 'gateway.log'}")
            time.sleep(0.1)


def soak(binary: str, seconds: float, rate: float, workdir: Path) -> list[str]:
    failures: list[str] = []
    process, port = start(binary, workdir, failure_rate=0.2)
    tally = Tally()
    samples: dict[str, int] = {"start": rss_kib(process.pid)}
    warm_up = seconds * 0.1

    def on_tick(elapsed: float) -> None:
        if "warm" not in samples and elapsed >= warm_up:
            samples["warm"] = rss_kib(process.pid)
        if "middle" not in samples and elapsed >= seconds / 2:
            samples["middle"] = rss_kib(process.pid)

    sent = drive(port, rate, seconds, tally, on_tick)
    time.sleep(3)  # let the last requests and the log flush finish
    samples["end"] = rss_kib(process.pid)
    crashed = process.poll() is not None
    process.send_signal(signal.SIGTERM)
    exit_code = process.wait(timeout=60)

    outcomes = tally.outcomes
    counts = {kind: sum(1 for o in outcomes if o.kind == kind) for kind in ("ok", "error", "hung_up", "refused", "broken")}
    answered = [o.request_id for o in outcomes if o.request_id]
    rows = log_rows(workdir / "soak.db")
    missing = [rid for rid in answered if rid not in rows]
    doubled = [rid for rid, count in rows.items() if count > 1]
    growth = (samples["end"] - samples["warm"]) / samples["warm"] * 100
    print(f"soak: {seconds:.0f} s at {rate:.0f} req/s, {sent} requests sent, {len(outcomes)} finished")
    print(f"  outcomes: {counts}")
    print(f"  success (200 complete, of requests not hung up on purpose): "
          f"{counts['ok'] / max(1, len(outcomes) - counts['hung_up']) * 100:.1f}%")
    print(f"  RSS KiB: start {samples['start']}, after warm-up {samples['warm']}, middle {samples.get('middle')}, "
          f"end {samples['end']} (growth after warm-up {growth:+.1f}%)")
    print(f"  request log: {len(rows)} rows for {len(answered)} answered requests; "
          f"{len(missing)} missing, {len(doubled)} doubled")
    print(f"  crashed during the run: {crashed}; exit code after SIGTERM: {exit_code}")
    if crashed:
        failures.append("the gateway crashed")
    if exit_code != 0:
        failures.append(f"exit code {exit_code} after SIGTERM")
    if counts["broken"]:
        failures.append(f"{counts['broken']} requests broke without a clean error")
    if missing or doubled:
        failures.append(f"request log: {len(missing)} missing, {len(doubled)} doubled")
    if growth >= 10:
        failures.append(f"RSS grew {growth:.1f}% after warm-up")
    return failures


def sigterm_under_load(binary: str, workdir: Path) -> list[str]:
    """SIGTERM while streams are running: each accepted request finishes or errs cleanly, and is logged."""
    failures: list[str] = []
    process, port = start(binary, workdir, failure_rate=0.0)
    tally = Tally()
    threads = []
    for index in range(40):
        stream = index % 2 == 0
        thread = threading.Thread(target=lambda s=stream, i=index: tally.add(one_request(port, s, False, i)))
        thread.start()
        threads.append(thread)
    time.sleep(0.15)  # the requests are in flight (each takes about 0.2 s)
    process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(timeout=60)
    exit_code = process.wait(timeout=60)
    outcomes = tally.outcomes
    accepted = [o for o in outcomes if o.request_id]
    unclean = [o for o in outcomes if o.kind == "broken"]
    rows = log_rows(workdir / "soak.db")
    missing = [o.request_id for o in accepted if o.request_id not in rows]
    print(f"SIGTERM under load: {len(outcomes)} requests, {len(accepted)} accepted, "
          f"{sum(1 for o in accepted if o.kind == 'ok')} completed, "
          f"{sum(1 for o in outcomes if o.kind == 'refused')} refused after the listener closed, "
          f"{len(unclean)} broken; {len(missing)} accepted without a log row; exit code {exit_code}")
    if unclean:
        failures.append(f"{len(unclean)} requests broke at SIGTERM")
    if missing:
        failures.append(f"{len(missing)} accepted requests have no log row after SIGTERM")
    if exit_code != 0:
        failures.append(f"exit code {exit_code} after SIGTERM under load")
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=float, default=50)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-soak-"))
    failures = soak(args.binary, args.seconds, args.rate, workdir / "soak")
    failures += sigterm_under_load(args.binary, workdir / "sigterm")
    if failures:
        print("FAILED: " + "; ".join(failures))
        sys.exit(1)
    print("soak: all checks passed")


if __name__ == "__main__":
    main()
