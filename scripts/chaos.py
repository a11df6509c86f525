"""Chaos run: many calls over two routes, the first failing a share of its calls; run through ``scripts/chaos``.

Standard library only. The gateway is the real binary with two simulator providers: ``flaky`` fails
``--failure-rate`` of its calls with a 500, ``steady`` never fails. The model tries ``flaky`` first
(``strategy: fallback``) with the default cooldown. Reports the success rate, the attempts each
route received (from ``GET /admin/stats``) before and after the failing route first cooled down,
and exits non-zero when fewer than 99.9% of calls succeed or the failing route gets 5% or more of
the attempts after its cooldown.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MASTER_KEY = "chaos-master-key-0123456789"
CONFIG = """\
listen: 127.0.0.1:{port}
master_key: {master_key}
store: memory
providers:
  flaky:
    type: simulator
    ttft: 2ms
    tokens_per_second: 20000
    failure_rate: {failure_rate}
    failures: [server_error]
  steady:
    type: simulator
    ttft: 2ms
    tokens_per_second: 20000
models:
  chaos:
    routes:
      - {{provider: flaky, model: gpt-4o-mini}}
      - {{provider: steady, model: gpt-4o-mini}}
retries: {{attempts: 2, initial_backoff: 5ms, max_backoff: 100ms, budget: 0.2}}
"""
BODY = json.dumps({"model": "chaos", "max_tokens": 8, "messages": [{"role": "user", "content": "ping"}]}).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def route_calls(port: int) -> dict[str, int]:
    """Attempts per route over the last 5 minutes, from the gateway's live statistics."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/admin/stats", headers={"authorization": f"Bearer {MASTER_KEY}"})
    stats = json.loads(connection.getresponse().read())
    connection.close()
    return {route["route"]: route["windows"][0]["calls"] for route in stats["data"]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--failure-rate", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=150.0, help="calls a second (0: as fast as possible)")
    args = parser.parse_args()

    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-chaos-"))
    config = workdir / "chaos.yaml"
    config.write_text(CONFIG.format(port=port, master_key=MASTER_KEY, failure_rate=args.failure_rate))
    gateway = subprocess.Popen(
        [args.binary, "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "gateway.log", "wb"),
        env={"LOG_LEVEL": "warning", "PATH": "/usr/bin:/bin"},
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        lock = threading.Lock()
        results = {"ok": 0, "failed": 0}
        answered_by: dict[str, int] = {}
        cooled: dict[str, object] = {}
        issued = iter(range(args.calls))
        started = time.monotonic()
        local = threading.local()

        def call(index: int) -> None:
            if args.rate > 0:
                # Paced: call `index` starts at its slot, so the run spans the cooldown and its probes.
                delay = started + index / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            connection = getattr(local, "connection", None)
            if connection is None:
                connection = local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("POST", "/v1/chat/completions", body=BODY, headers={
                    "content-type": "application/json", "authorization": f"Bearer {MASTER_KEY}"})
                response = connection.getresponse()
                response.read()
                provider = response.getheader("x-switchyard-provider") or "-"
                reason = response.getheader("x-switchyard-route-reason") or ""
                with lock:
                    results["ok" if response.status == 200 else "failed"] += 1
                    answered_by[provider] = answered_by.get(provider, 0) + 1
                    if "(cooldown)" in reason and "at" not in cooled:
                        cooled["at"] = time.monotonic()
                        cooled["calls_done"] = results["ok"] + results["failed"]
                        cooled["snapshot"] = route_calls(port)
            except (OSError, http.client.HTTPException):
                local.connection = None
                with lock:
                    results["failed"] += 1

        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(call, issued))
        elapsed = time.monotonic() - started
        time.sleep(1.5)  # one statistics refresh
        final = route_calls(port)

        total = results["ok"] + results["failed"]
        success = results["ok"] / total if total else 0.0
        print(f"calls: {total} in {elapsed:.1f} s ({total / elapsed:.0f}/s), concurrency {args.concurrency}, "
              f"failing route: {args.failure_rate:.0%} of its calls")
        print(f"succeeded: {results['ok']} ({success:.4%}); failed: {results['failed']}")
        print(f"answered by: {answered_by}")
        print(f"attempts per route (5-minute window): {final}")
        ok = success >= 0.999
        if "snapshot" in cooled:
            before = cooled["snapshot"]
            after = {route: final.get(route, 0) - before.get(route, 0) for route in final}
            flaky_after = after.get("flaky/gpt-4o-mini", 0)
            attempts_after = sum(after.values())
            share = flaky_after / attempts_after if attempts_after else 0.0
            print(f"first cooldown seen after call {cooled['calls_done']} "
                  f"({cooled['at'] - started:.2f} s into the run)")
            print(f"after it: {attempts_after} attempts, {flaky_after} on the failing route ({share:.2%})")
            ok = ok and share < 0.05
        else:
            print("the failing route never cooled down")
            ok = False
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        gateway.terminate()
        gateway.wait(timeout=15)


if __name__ == "__main__":
    sys.exit(main())
