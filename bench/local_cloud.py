"""The local cloud's own cost: start-up, and what the gateway and its authorizer add to a request.

    .venv/bin/python -c "import bench.local_cloud as b; raise SystemExit(b.main())"   (or: make bench)

Three figures for GET /products/{id} of a seeded product, all on loopback, bounded loops:
1. through the local cloud: HTTP, gateway, Cognito authorizer (RS256 verification), event building,
   the function's worker process, DynamoDB (moto) in the cloud process;
2. the same handler called in this process with an equivalent event, no gateway, no authorization,
   talking to the same DynamoDB endpoint;
3. the authorizer alone (token parsing, JWKS key lookup from the cache, signature and claims checks).
Target: the authorizer adds at most 10% to the median request (3 / 1). Start-up: within 3 s, measured
from spawning `python -m local` to its outputs file being written (it is written last, when ready).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
FUNCTION = "GetProductFunction"
REQUESTS = 400
WARMUP = 20
AUTHORIZER_CALLS = 2000
STARTUPS = 3
STARTUP_TARGET_SECONDS = 3.0
AUTHORIZATION_TARGET_SHARE = 0.10


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_cloud(workdir: Path, seed: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any], float]:
    outputs = workdir / f"outputs-{uuid.uuid4().hex}.json"
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local",
            "--port",
            str(_free_port()),
            "--outputs",
            str(outputs),
            "--seed",
            str(seed),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not outputs.exists():
        if process.poll() is not None or time.perf_counter() - started > 30:
            raise SystemExit("the local cloud did not start; run `make local` to see why")
        time.sleep(0.01)
    return process, json.loads(outputs.read_text()), time.perf_counter() - started


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=15)


def _timed(call: Callable[[], Any], count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "per_second": len(ordered) / (sum(ordered) / 1000),
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, round(0.99 * len(ordered)))],
    }


def _product() -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "name": "Bench cup",
        "price": 12.5,
        "currency": "EUR",
        "version": 1,
        "created_at": "2025-11-18T08:30:00.000Z",
        "updated_at": "2025-11-18T08:30:00.000Z",
        "created_by": "bench",
        "updated_by": "bench",
    }


def _token(outputs: dict[str, Any]) -> str:
    clients = outputs["Clients"]
    client = clients[max(clients, key=lambda c: len(clients[c]["AllowedScopes"]))]
    response = requests.post(
        outputs["TokenUrl"],
        data={"grant_type": "client_credentials"},
        auth=(client["ClientId"], client["ClientSecret"]),
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def _through_gateway(outputs: dict[str, Any], product_id: str, token: str) -> list[float]:
    session = requests.Session()  # keep-alive, as a real client would
    url = f"{outputs['ApiUrl']}/products/{product_id}"
    headers = {"Authorization": f"Bearer {token}"}

    def call() -> None:
        response = session.get(url, headers=headers, timeout=30)
        assert response.status_code == 200, response.text

    _timed(call, WARMUP)  # includes the worker's cold start
    return _timed(call, REQUESTS)


def _route_and_function_env(outputs: dict[str, Any]) -> tuple[Any, dict[str, str], Path, str]:
    """The route and the function's environment, from the same record the local cloud runs it with."""
    from local.functions import function_config
    from local.resolve import Resolver, pseudo_parameters
    from local.spec import read_spec
    from local.template import translate

    template = translate()
    spec = read_spec(template)
    route = next(r for r in spec.api.routes if r.function == FUNCTION)
    resolver = Resolver(
        parameters={
            **template.parameters,
            **pseudo_parameters(outputs["Region"], "123456789012", "product-api"),
        },
        conditions=template.conditions,
        refs={name: name for name in template.resources} | dict.fromkeys(spec.tables, outputs["TableName"]),
    )
    config = function_config(template, FUNCTION, resolver)
    env = config.environment(region=outputs["Region"], endpoint_url=outputs["AwsEndpointUrl"])
    return route, env, config.code_dir, config.handler


def _in_process(outputs: dict[str, Any], product_id: str, token: str) -> list[float]:
    """The handler alone, in this process, on the event the gateway would build (claims included)."""
    import importlib

    import jwt

    from local.events import authorizer_claims, rest_event

    route, env, code_dir, handler_path = _route_and_function_env(outputs)
    os.environ.update(env)
    sys.path.insert(0, str(code_dir))
    module_name, _, function_name = handler_path.rpartition(".")
    claims = authorizer_claims(jwt.decode(token, options={"verify_signature": False}))

    class Context:
        function_name = FUNCTION
        memory_limit_in_mb = 256
        invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}"
        aws_request_id = "bench"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 10_000

    # The handler logs to stdout at the template's level, as in its worker; here that goes nowhere.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        handler = getattr(importlib.import_module(module_name), function_name)

        def call() -> None:
            event = rest_event(
                method="GET",
                resource=route.resource,
                path=f"/products/{product_id}",
                path_parameters={"id": product_id},
                headers=[("Authorization", f"Bearer {token}")],
                claims=claims,
            )
            assert handler(event, Context())["statusCode"] == 200

        _timed(call, WARMUP)
        return _timed(call, REQUESTS)


def _authorizer_alone(outputs: dict[str, Any], token: str) -> list[float]:
    from local.authorizer import CognitoAuthorizer
    from local.spec import read_spec
    from local.template import translate

    scopes = next(r.scopes for r in read_spec(translate()).api.routes if r.function == FUNCTION)
    jwks = requests.get(outputs["JwksUrl"], timeout=10).json()
    authorizer = CognitoAuthorizer(issuer=outputs["Issuer"], jwks=jwks)
    header = f"Bearer {token}"
    return _timed(lambda: authorizer.authorize(header, scopes), AUTHORIZER_CALLS)


def main() -> int:
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # feature-toggle chatter
    # Powertools warns on every in-process call that a cold-start-only metrics flush is empty.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        product = _product()
        seed = workdir / "seed.json"
        seed.write_text(json.dumps([product]))
        startups = []
        for _ in range(STARTUPS - 1):
            process, _, seconds = _start_cloud(workdir, seed)
            startups.append(seconds)
            _stop(process)
        process, outputs, seconds = _start_cloud(workdir, seed)
        startups.append(seconds)
        try:
            token = _token(outputs)
            gateway = _summary(_through_gateway(outputs, product["id"], token))
            direct = _summary(_in_process(outputs, product["id"], token))
            authorizer = _summary(_authorizer_alone(outputs, token))
        finally:
            _stop(process)

    share = authorizer["p50"] / gateway["p50"]
    print(
        f"GET /products/{{id}}, {REQUESTS} sequential requests after {WARMUP} warm-up, keep-alive, loopback"
    )
    print(f"{'':38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for label, figures in (
        ("through the local cloud (with auth)", gateway),
        ("handler in process (no gateway/auth)", direct),
    ):
        print(f"{label:38} {figures['per_second']:8.0f} {figures['p50']:8.2f} {figures['p99']:8.2f}")
    print(
        f"{'authorizer alone (' + str(AUTHORIZER_CALLS) + ' calls)':38} {authorizer['per_second']:8.0f} "
        f"{authorizer['p50']:8.3f} {authorizer['p99']:8.3f}"
    )
    print(f"gateway / in-process median: {gateway['p50'] / direct['p50']:.2f}x")
    verdict = "ok" if share <= AUTHORIZATION_TARGET_SHARE else "OVER TARGET"
    print(f"authorization share of the median request: {share:.1%} (target <= 10%: {verdict})")
    worst = max(startups)
    verdict = "ok" if worst <= STARTUP_TARGET_SECONDS else "OVER TARGET"
    runs = ", ".join(f"{s:.2f} s" for s in startups)
    print(f"start-up to ready, {STARTUPS} runs: {runs} (target <= 3 s: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
