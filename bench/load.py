"""Load on the local cloud: many clients at once, mostly reads, some writes; throughput, latency, errors.

    .venv/bin/python -m bench.load [--clients 20] [--seconds 20]     (or: make bench)

Each client is a thread with its own keep-alive connection and the admin client's token, looping until
the time is up (and never past MAX_REQUESTS_PER_CLIENT): 80% reads (60% GET /products/{id} of a seeded
product, 20% GET /products), 20% writes (half POST /products, half PUT /products/{id} of one of its
own products at the version it last got back, so every write should succeed). An error is any status
other than the one expected, or a failed request; the run should have none.

What it shows is the local cloud's behaviour under concurrency on this machine (each function runs up
to the laptop's execution environments, and calls beyond them wait, as with no reserved concurrency;
the stage's throttling is off: `--no-throttle`), not AWS's throughput.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.local_cloud import _product, _start_cloud, _token

DEFAULT_CLIENTS, DEFAULT_SECONDS = 20, 20
MAX_CLIENTS, MAX_SECONDS = 64, 120
MAX_REQUESTS_PER_CLIENT = 20_000
SEEDED_PRODUCTS = 100
MIX = (("get", 60), ("list", 20), ("create", 10), ("update", 10))


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for kind, values in other.latencies.items():
            self.latencies[kind] += values
        self.statuses += other.statuses
        self.errors += other.errors


def _client(api_url: str, token: str, seeded: list[str], deadline: float, rng: random.Random) -> Tally:
    tally = Tally()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    own: dict[str, int] = {}  # product id -> the version this client last got back
    kinds, weights = zip(*MIX, strict=True)
    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if time.monotonic() >= deadline:
            break
        kind = rng.choices(kinds, weights)[0]
        if kind == "update" and not own:
            kind = "create"
        started = time.perf_counter()
        try:
            if kind == "get":
                response, expected = session.get(f"{api_url}/products/{rng.choice(seeded)}", timeout=30), 200
            elif kind == "list":
                response, expected = session.get(f"{api_url}/products", params={"limit": 20}, timeout=30), 200
            elif kind == "create":
                body = {"name": f"load {uuid.uuid4().hex[:8]}", "price": "9.90", "currency": "EUR"}
                response, expected = session.post(f"{api_url}/products", json=body, timeout=30), 201
            else:
                product_id = rng.choice(list(own))
                body = {
                    "name": "load, updated",
                    "price": "10.90",
                    "currency": "EUR",
                    "version": own[product_id],
                }
                response = session.put(f"{api_url}/products/{product_id}", json=body, timeout=30)
                expected = 200
        except requests.RequestException as error:
            tally.errors.append(f"{kind}: {type(error).__name__}: {error}")
            continue
        tally.latencies[kind].append((time.perf_counter() - started) * 1000)
        tally.statuses[(kind, response.status_code)] += 1
        if response.status_code != expected:
            tally.errors.append(f"{kind}: {response.status_code} {response.text[:200]}")
        elif kind in ("create", "update"):
            product = response.json()
            own[product["id"]] = product["version"]
    return tally


def _warm_up(api_url: str, token: str, product_id: str) -> None:
    """One call to each function first: their cold starts are not what this benchmark measures."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    body = {"name": "warm-up", "price": "1.00", "currency": "EUR"}
    created = session.post(f"{api_url}/products", json=body, timeout=30).json()
    session.put(
        f"{api_url}/products/{created['id']}", json={**body, "version": created["version"]}, timeout=30
    )
    session.get(f"{api_url}/products/{product_id}", timeout=30)
    session.get(f"{api_url}/products", timeout=30)


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(clients: int, seconds: float) -> int:
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        products = [_product() for _ in range(SEEDED_PRODUCTS)]
        seed = workdir / "seed.json"
        seed.write_text(json.dumps(products))
        cloud = _start_cloud(workdir, seed, "--no-throttle")
        outputs = cloud.outputs
        try:
            token = _token(outputs)
            seeded = [p["id"] for p in products]
            _warm_up(outputs["ApiUrl"], token, seeded[0])
            started = time.monotonic()
            deadline = started + seconds
            with ThreadPoolExecutor(max_workers=clients) as pool:
                tallies = list(
                    pool.map(
                        lambda i: _client(outputs["ApiUrl"], token, seeded, deadline, random.Random(i)),
                        range(clients),
                    )
                )
            elapsed = time.monotonic() - started
        finally:
            cloud.stop()

    total = Tally()
    for tally in tallies:
        total.add(tally)
    every = sorted(v for values in total.latencies.values() for v in values)
    print(f"{clients} clients for {seconds:g} s on the local cloud, keep-alive, loopback; mix {dict(MIX)} %")
    print(f"{'':10} {'requests':>9} {'share':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for kind, values in [(kind, total.latencies[kind]) for kind, _ in MIX] + [("all", every)]:
        if values:
            ordered = sorted(values)
            share, p50 = len(ordered) / len(every), statistics.median(ordered)
            p95, p99 = _percentile(ordered, 0.95), _percentile(ordered, 0.99)
            print(f"{kind:10} {len(ordered):>9} {share:>6.0%} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f}")
    print(f"throughput: {len(every) / elapsed:.0f} requests/s over {elapsed:.1f} s")
    print(f"statuses: {dict(sorted((f'{k} {s}', n) for (k, s), n in total.statuses.items()))}")
    print(f"errors: {len(total.errors)}")
    for error in total.errors[:10]:
        print(f"  {error}")
    return 1 if total.errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS, choices=range(1, MAX_CLIENTS + 1))
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS)
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be from 1 to {MAX_SECONDS}")
    return run(args.clients, args.seconds)


if __name__ == "__main__":
    sys.exit(main())
