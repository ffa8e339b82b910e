"""Cold-start benchmark: each function's init time and peak memory against a bare boto3 handler.

    .venv/bin/python -m bench.cold_start [--runs N] [--only NAME] [--steps] [--json PATH]
                                         [--powertools VERSION]

What is measured, for each function in template.yaml and for bench/bare_handler.py: N fresh
interpreters (BENCH_RUNS or --runs, default 15), each importing the handler module and invoking it
once with a realistic API Gateway event (Cognito's event for the pool's trigger), DynamoDB answered
by a loopback stub. Inside each
process: the time from just before the import to the end of that first invocation, and the peak
RSS. Medians, p90 and the ratios to the bare handler are printed. See docs/performance.md.

The processes run in `.venv-lambda/`, a venv that mirrors the Lambda runtime: the `runtime`
dependency group of pyproject.toml (Powertools with all extras at the pinned version, boto3) and
no awscrt (the python3.13 runtime's boto3 has none, but the dev tools pull it into .venv). It is
built once and rebuilt when the pins change.

A benchmark reports; it does not fail the build: main() returns 0 unless it could not run at all.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
VENV_DIR = ROOT / ".venv-lambda"
CHILD = BENCH_DIR / "_child.py"
BARE_HANDLER = BENCH_DIR / "bare_handler.py"
BARE = "bare handler"
# The same yardstick with the functions' garbage-collection treatment (bench/bare_handler_gc.py).
BARE_GC_HANDLER = BENCH_DIR / "bare_handler_gc.py"
BARE_GC = "bare handler, GC paused in import"
STEPS_DIR = BENCH_DIR / "steps"
TRIGGER_ANSWERED = "answered"  # what bench/_child.py reports for a Cognito trigger that set a response
# --steps: from the bare handler to a function, one layer at a time (bench/steps/*.py).
STEPS = {
    "step1_logger_metrics": "+ Logger, Metrics",
    "step2_tracer": "+ Tracer (botocore)",
    "step3_resolver": "+ REST resolver",
    "step4_jsonschema": "+ JSON Schema check",
    "step5_gc_paused": "+ GC paused in import",
    "step4_alt_pydantic": "3 + pydantic instead of 4",
}

DEFAULT_RUNS = 15
MIN_RUNS, MAX_RUNS = 3, 50
IMPORTTIME_RUNS = 3  # -X importtime runs per target, which also warm the page cache
CHILD_TIMEOUT_S = 60
TARGET_TIME_RATIO = 1.25
TARGET_RSS_RATIO = 1.3
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
# Packages whose absence or presence makes the venv unlike the Lambda runtime.
MUST_BE_ABSENT = ("awscrt",)
REPORTED_PACKAGES = (
    "boto3",
    "botocore",
    "aws-lambda-powertools",
    "fastjsonschema",
    "pydantic",
    "pydantic-core",
    "aws-xray-sdk",
)

# A product as the API takes it (POST/PUT body) and as the table stores it.
PRODUCT_INPUT = {
    "name": "Bench widget",
    "description": "A product for the cold-start benchmark",
    "price": "12.50",
    "currency": "EUR",
}


# ------------------------------------------------------------------ the Lambda-like venv


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml", group: str = "runtime") -> list[str]:
    """The requirement strings of a dependency group (PEP 735), include-group expanded."""
    groups = tomllib.loads(pyproject.read_text())["dependency-groups"]

    def expand(name: str, seen: tuple[str, ...]) -> list[str]:
        if name in seen:
            raise ValueError(f"dependency group cycle: {' -> '.join((*seen, name))}")
        out: list[str] = []
        for entry in groups[name]:
            if isinstance(entry, str):
                out.append(entry)
            else:
                out.extend(expand(entry["include-group"], (*seen, name)))
        return out

    return expand(group, ())


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _present(python: Path, module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([str(python), "-c", code], check=False).returncode == 0


def with_powertools(requirements: list[str], version: str) -> list[str]:
    """The requirements with aws-lambda-powertools pinned at another release (an A/B of releases)."""
    pinned = [
        re.sub(r"^(aws-lambda-powertools(\[[^\]]*\])?)==\S+$", rf"\1=={version}", r) for r in requirements
    ]
    if pinned == requirements:
        raise ValueError("the runtime group pins no aws-lambda-powertools==X to replace")
    return pinned


def ensure_venv(venv: Path = VENV_DIR, powertools: str | None = None) -> Path:
    """Build (once per set of pins and interpreter) the venv that mirrors the Lambda runtime."""
    requirements = runtime_requirements()
    if powertools:
        requirements = with_powertools(requirements, powertools)
        venv = venv.with_name(f"{venv.name}-powertools-{powertools}")
    key = json.dumps([requirements, sys.version, platform.machine(), MUST_BE_ABSENT])
    stamp = venv / f".bench-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    python = _venv_python(venv)
    if stamp.exists() and python.exists():
        return python

    print(f"building {venv.name}/ (Lambda-like: {' '.join(requirements)}; no awscrt) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "install", "--only-binary=:all:", *requirements], check=True)
    for module in MUST_BE_ABSENT:
        if _present(python, module):
            subprocess.run([*pip, "uninstall", "--yes", module], check=True)
        if _present(python, module):
            raise RuntimeError(f"{module} is still importable in {venv}")
    stamp.touch()
    return python


def installed_versions(python: Path) -> dict[str, str]:
    code = (
        "import json, sys; from importlib import metadata\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try: out[name] = metadata.version(name)\n"
        "    except metadata.PackageNotFoundError: out[name] = 'absent'\n"
        "print(json.dumps(out))"
    )
    names = [*REPORTED_PACKAGES, *MUST_BE_ABSENT]
    proc = subprocess.run([str(python), "-c", code, *names], check=True, capture_output=True, text=True)
    return json.loads(proc.stdout)


# ------------------------------------------------------------------ stubs the children talk to


def _item(product_id: str, version: int = 1) -> dict[str, Any]:
    return {
        "id": {"S": product_id},
        "name": {"S": PRODUCT_INPUT["name"]},
        "description": {"S": PRODUCT_INPUT["description"]},
        "price": {"N": PRODUCT_INPUT["price"]},
        "currency": {"S": PRODUCT_INPUT["currency"]},
        "version": {"N": str(version)},
        "created_at": {"S": "2026-01-01T00:00:00+00:00"},
        "updated_at": {"S": "2026-01-01T00:00:00+00:00"},
        "created_by": {"S": "benchclient"},
        "updated_by": {"S": "benchclient"},
    }


def dynamodb_answer(operation: str, request: dict[str, Any]) -> dict[str, Any]:
    """A canned, successful DynamoDB answer (JSON protocol) to one request."""
    product_id = (request.get("Key") or request.get("Item") or {}).get("id", {}).get("S", str(uuid.uuid4()))
    if operation == "GetItem":
        return {"Item": _item(product_id)}
    if operation == "PutItem":
        return {}
    if operation == "UpdateItem":
        return {"Attributes": _item(product_id, version=2)}
    if operation == "DeleteItem":
        return {"Attributes": _item(product_id)} if request.get("ReturnValues") == "ALL_OLD" else {}
    if operation in ("Scan", "Query"):
        items = [_item(f"00000000-0000-4000-8000-00000000000{i}") for i in range(3)]
        return {"Items": items, "Count": len(items), "ScannedCount": len(items)}
    raise KeyError(operation)


class DynamoDBStub:
    """A loopback HTTP server that answers DynamoDB's JSON protocol with canned items.

    Each target gets its own endpoint path (/<target>/), so calls are counted per target.
    """

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
                target = self.path.strip("/").split("/")[0]
                try:
                    status, body = 200, dynamodb_answer(operation, request)
                except KeyError:
                    status = 400
                    body = {"__type": "com.amazon.coral.service#UnknownOperationException"}
                stub.calls[(target, operation)] += 1
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def endpoint(self, target: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/{target}"

    def __enter__(self) -> DynamoDBStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class XRaySink:
    """A UDP socket standing in for the X-Ray daemon: counts the segment documents it receives."""

    def __init__(self) -> None:
        self.documents = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._sock.getsockname()
        return f"{host}:{port}"

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if data.startswith(b'{"format"'):
                self.documents += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


# ------------------------------------------------------------------ what to measure


@dataclass
class Target:
    name: str
    handler: str
    code_dir: Path
    env: dict[str, str]
    event: dict[str, Any]
    memory_mb: int
    timeout_s: int
    kind: str = "function"  # or "trigger" (a Cognito trigger, not behind the API), "bare", "step"
    results: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    log_lines: int = 0
    emf_lines: int = 0
    statuses: Counter[Any] = field(default_factory=Counter)
    importtime: dict[str, float] = field(default_factory=dict)


def _claims(scopes: str) -> dict[str, str]:
    """An access token's claims (client credentials), as the Cognito authorizer passes them."""
    from sam_local_cloud.apigateway.events import authorizer_claims
    from sam_local_cloud.cognito.tokens import client_credentials_claims

    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_bench"
    return authorizer_claims(client_credentials_claims("benchclient0000000000000000", scopes.split(), issuer))


def _id_token_claims(template: Any) -> dict[str, str]:
    """A person's ID token claims, for a route without scopes (GET /me)."""
    from events.generate import id_token_claims, sample_person, user_client_of
    from sam_local_cloud.apigateway.events import authorizer_claims

    return authorizer_claims(id_token_claims(sample_person(template), user_client_of(template)))


def _trigger_event(template: Any) -> dict[str, Any]:
    """Cognito's V2_0 pre token generation event: a person signing in through the API."""
    from events.generate import person_trigger_event, sample_person, user_client_of

    return person_trigger_event(
        trigger_source="TokenGeneration_Authentication",
        person=sample_person(template),
        client_id=user_client_of(template).client_id,
        scopes=["aws.cognito.signin.user.admin"],
    )


def _event(method: str, resource: str, claims: dict[str, str]) -> dict[str, Any]:
    from sam_local_cloud.apigateway.events import rest_event

    product_id = "0b7e3c1e-6a4f-4f44-9d4e-2f0c3b1a9e55"
    params = dict.fromkeys(re.findall(r"\{(\w+)\}", resource), product_id)
    path = re.sub(r"\{(\w+)\}", product_id, resource)
    body = {"POST": json.dumps(PRODUCT_INPUT), "PUT": json.dumps({**PRODUCT_INPUT, "version": 1})}.get(method)
    headers = [
        ("Accept", "application/json"),
        ("Authorization", "Bearer eyJraWQiOiJiZW5jaCJ9.e30.c2ln"),
        ("Host", "abcdef1234.execute-api.us-east-1.amazonaws.com"),
        ("User-Agent", "bench/1.0"),
        ("X-Amzn-Trace-Id", "Root=1-67891233-abcdef012345678912345678"),
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]
    if body is not None:
        headers.append(("Content-Type", "application/json"))
    return rest_event(
        method=method,
        resource=resource,
        path=path,
        path_parameters=params,
        headers=headers,
        body=body,
        claims=claims,
        domain_name="abcdef1234.execute-api.us-east-1.amazonaws.com",
    )


_NO_BYTECODE = shutil.ignore_patterns("__pycache__", "*.pyc")


def load_targets(stage: Path, *, steps: bool = False) -> list[Target]:
    """The bare handler and every function of template.yaml, their code staged as `sam build` would.

    Code is copied without __pycache__ (sam build leaves bytecode out and /var/task is read-only),
    so every cold start compiles the function's own modules, as in Lambda.
    """
    from events.generate import pre_token_function
    from sam_local_cloud.cloudformation.resolve import Resolver
    from sam_local_cloud.cloudformation.spec import proxy_routes
    from sam_local_cloud.cloudformation.template import translate
    from sam_local_cloud.lambda_.functions import function_config

    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # "Feature ... not available" noise
    template = translate()
    routes = {r.function: (r.method, r.resource) for r in proxy_routes(template)}
    # The DynamoDB stub answers any table name: each resource's Ref is its logical id.
    resolver = Resolver(parameters=template.parameters, conditions=template.conditions)
    resolver.refs.update({name: name for name in template.resources})
    functions = template.of_type("AWS::Lambda::Function")
    if not functions:
        raise RuntimeError("template.yaml defines no functions")

    staged: dict[Path, Path] = {}
    targets: list[Target] = []
    for logical_id in functions:
        config = function_config(template, logical_id, resolver)  # the record the local cloud runs
        source_dir = config.code_dir
        if source_dir not in staged:
            staged[source_dir] = stage / f"code{len(staged)}"
            shutil.copytree(source_dir, staged[source_dir], ignore=_NO_BYTECODE)
        env = dict(config.variables)
        kind = "function"
        if logical_id in routes:
            method, resource_path = routes[logical_id]
            scopes = env.get("REQUIRED_SCOPES", "")
            claims = _claims(scopes) if scopes else _id_token_claims(template)
            event = _event(method, resource_path, claims)
        elif logical_id == pre_token_function(template):
            event, kind = _trigger_event(template), "trigger"
        else:
            raise RuntimeError(f"{logical_id}: neither a route's function nor the pool's trigger")
        targets.append(
            Target(
                name=logical_id,
                handler=config.handler,
                code_dir=staged[source_dir],
                env=env,
                event=event,
                memory_mb=config.memory_mb,
                timeout_s=int(config.timeout_seconds),
                kind=kind,
            )
        )

    # The yardstick gets the same Lambda environment and the GetProduct event.
    get_like = next(
        (t for t in targets if t.event.get("httpMethod") == "GET" and t.event["pathParameters"]), targets[0]
    )
    bare_dir = stage / "bare"
    bare_dir.mkdir()
    for yardstick in (BARE_HANDLER, BARE_GC_HANDLER):
        shutil.copy2(yardstick, bare_dir / yardstick.name)
    bare = Target(
        name=BARE,
        handler=f"{BARE_HANDLER.stem}.lambda_handler",
        code_dir=bare_dir,
        env={"TABLE_NAME": get_like.env["TABLE_NAME"]},
        event=get_like.event,
        memory_mb=get_like.memory_mb,
        timeout_s=get_like.timeout_s,
        kind="bare",
    )
    bare_gc = Target(
        name=BARE_GC,
        handler=f"{BARE_GC_HANDLER.stem}.lambda_handler",
        code_dir=bare_dir,
        env=bare.env,
        event=bare.event,
        memory_mb=bare.memory_mb,
        timeout_s=bare.timeout_s,
        kind="bare",
    )
    extra: list[Target] = []
    if steps:
        steps_dir = stage / "steps"
        shutil.copytree(STEPS_DIR, steps_dir, ignore=_NO_BYTECODE)
        for module, label in STEPS.items():
            extra.append(
                Target(
                    name=label,
                    handler=f"{module}.lambda_handler",
                    code_dir=steps_dir,
                    env=get_like.env,
                    event=get_like.event,
                    memory_mb=get_like.memory_mb,
                    timeout_s=get_like.timeout_s,
                    kind="step",
                )
            )
    return [bare, bare_gc, *extra, *targets]


# ------------------------------------------------------------------ running the cold starts


def _trace_header() -> str:
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"


def lambda_environment(target: Target, endpoint: str, xray_address: str) -> dict[str, str]:
    """What the Lambda runtime sets, then the function's own variables. Nothing from our shell."""
    name = target.name.replace(" ", "-")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only in Lambda
        "LAMBDA_TASK_ROOT": str(target.code_dir),
        "LAMBDA_RUNTIME_DIR": str(target.code_dir),
        "_HANDLER": target.handler,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(target.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/product-api",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"2026/01/01/[$LATEST]{uuid.uuid4().hex}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH0",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",  # dummies: the stub checks nothing
        "AWS_SESSION_TOKEN": "bench-token",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }
    env.update(target.env)
    # Last, so that the template's own (empty) AWS_ENDPOINT_URL_DYNAMODB cannot send us to AWS.
    # X-Ray: the SDK runs in Lambda mode (LAMBDA_TASK_ROOT), so Tracer is enabled and patches
    # botocore; the facade segment comes from _X_AMZN_TRACE_ID and subsegments go out by UDP.
    env.update(
        AWS_ENDPOINT_URL_DYNAMODB=endpoint,
        AWS_XRAY_DAEMON_ADDRESS=xray_address,
        _X_AMZN_TRACE_ID=_trace_header(),
    )
    return env


def run_one(python: Path, target: Target, stub: DynamoDBStub, sink: XRaySink, *, importtime: bool = False):
    """One cold start in a fresh interpreter. Returns (result, stdout, stderr)."""
    spec = {
        "code_dir": str(target.code_dir),
        "handler": target.handler,
        "event": target.event,
        "function_name": target.name.replace(" ", "-"),
        "memory_mb": target.memory_mb,
        "timeout_s": target.timeout_s,
        "request_id": str(uuid.uuid4()),
    }
    env = lambda_environment(target, stub.endpoint(target.name.replace(" ", "-")), sink.address)
    read_fd, write_fd = os.pipe()
    args = [str(python), "-P", *(["-X", "importtime"] if importtime else []), str(CHILD), str(write_fd)]
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=target.code_dir,
            pass_fds=(write_fd,),
            text=True,
        )
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd) as results:
        try:
            stdout, stderr = proc.communicate(json.dumps(spec), timeout=CHILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return None, "", f"timed out after {CHILD_TIMEOUT_S}s"
        raw = results.read()
    if proc.returncode != 0 or not raw:
        return None, stdout, stderr
    return json.loads(raw), stdout, stderr


def interpreter_baseline(python: Path, runs: int) -> tuple[float, float]:
    """Median wall time (ms) and peak RSS (MiB) of `python -c pass`-like processes."""
    times, rss = [], []
    code = "print([line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')][0])"
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([str(python), "-c", "pass"], check=True, env={"PATH": os.environ.get("PATH", "")})
        times.append((time.perf_counter() - t0) * 1000)
        out = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True).stdout
        rss.append(int(out) / 1024)
    return statistics.median(times), statistics.median(rss)


_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


OWN_CODE = "(the function's own code)"


def import_breakdown(stderr: str, own_packages: set[str]) -> dict[str, float]:
    """`-X importtime` output -> self time (ms) per top-level package.

    A module's self time includes whatever its body runs, so the function's own code carries the
    DynamoDB client it makes at module level; and garbage
    collections land on whichever module happens to be importing.
    """
    per_package: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        found = _IMPORTTIME.match(line)
        if found:
            package = found.group(4).split(".")[0]
            per_package[OWN_CODE if package in own_packages else package] += int(found.group(1)) / 1000
    return dict(per_package)


def _error_of(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if not line.startswith("import time:")]
    return "\n".join(lines[-25:]) or "no result"


def _check_output(target: Target, stdout: str) -> None:
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "_aws" in record:
            target.emf_lines += 1
        elif isinstance(record, dict) and "level" in record:
            target.log_lines += 1


def measure(python: Path, targets: list[Target], runs: int) -> dict[str, Any]:
    """Warm-up, then `runs` rounds over all targets (interleaved, so drift hits all alike)."""
    sinks = {t.name: XRaySink() for t in targets}
    with DynamoDBStub() as stub:
        breakdowns: dict[str, list[dict[str, float]]] = defaultdict(list)
        for _ in range(IMPORTTIME_RUNS):  # -X importtime runs, which also warm the page cache
            for target in targets:
                result, _, stderr = run_one(python, target, stub, sinks[target.name], importtime=True)
                if result is None:
                    target.failures.append(_error_of(stderr))
                    continue
                # Both yardsticks' own code is bare_handler.py (bare_handler_gc.py only wraps it).
                own = {target.handler.split(".")[0]}
                if target.kind == "bare":
                    own.add(BARE_HANDLER.stem)
                breakdowns[target.name].append(import_breakdown(stderr, own))
        for target in targets:
            runs_of = breakdowns[target.name]
            packages = {p for b in runs_of for p in b}
            target.importtime = {p: statistics.median(b.get(p, 0.0) for b in runs_of) for p in packages}
        sinks_before = {name: sink.documents for name, sink in sinks.items()}
        calls_before = Counter(stub.calls)
        for _ in range(runs):
            for target in targets:
                result, stdout, stderr = run_one(python, target, stub, sinks[target.name])
                if result is None:
                    target.failures.append(_error_of(stderr))
                    continue
                target.results.append(result)
                target.statuses[result["status"]] += 1
                _check_output(target, stdout)
        time.sleep(0.3)  # let the last UDP datagrams land
        calls = stub.calls - calls_before
    xray = {name: sink.documents - sinks_before[name] for name, sink in sinks.items()}
    for sink in sinks.values():
        sink.close()
    return {"xray": xray, "calls": calls}


# ------------------------------------------------------------------ reporting


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]


def summarise(targets: list[Target]) -> list[dict[str, Any]]:
    rows = []
    for t in targets:
        if not t.results:
            rows.append({"name": t.name, "failed": True})
            continue
        init = [r["init_ms"] for r in t.results]
        rows.append(
            {
                "name": t.name,
                "runs": len(t.results),
                "init_median": statistics.median(init),
                "init_p90": _p90(init),
                "cpu_median": statistics.median(r["init_cpu_ms"] for r in t.results),
                "import_median": statistics.median(r["import_ms"] for r in t.results),
                "invoke_median": statistics.median(r["invoke_ms"] for r in t.results),
                "rss_median": statistics.median(r["peak_rss_kib"] / 1024 for r in t.results),
                "modules": statistics.median(r["modules"] for r in t.results),
                "gc_runs": statistics.median(r["gc_runs"] for r in t.results),
            }
        )
    bare = rows[0]
    bare_gc = next((r for r in rows if r["name"] == BARE_GC and not r.get("failed")), None)
    for row in rows:
        if row.get("failed") or bare.get("failed"):
            continue
        row["time_ratio"] = row["init_median"] / bare["init_median"]
        row["cpu_ratio"] = row["cpu_median"] / bare["cpu_median"]
        row["rss_ratio"] = row["rss_median"] / bare["rss_median"]
        row["met"] = row["time_ratio"] <= TARGET_TIME_RATIO and row["rss_ratio"] <= TARGET_RSS_RATIO
        if bare_gc is not None:
            row["time_ratio_gc"] = row["init_median"] / bare_gc["init_median"]
    return rows


def render_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| function | init median ms | p90 ms | x bare | x bare, GC paused | import ms | 1st call ms "
        "| CPU ms | x bare | peak RSS MiB | x bare | GC runs "
        f"| target met (<= {TARGET_TIME_RATIO}x, <= {TARGET_RSS_RATIO}x)? |"
    )
    lines = [head, "|---" * 13 + "|"]
    for r in rows:
        if r.get("failed"):
            lines.append(f"| {r['name']} | failed |" + " |" * 11)
            continue
        time_ratio_gc = f"{r['time_ratio_gc']:.2f}" if "time_ratio_gc" in r else "-"
        if "time_ratio" not in r:
            met, time_ratio, cpu_ratio, rss_ratio = "-", "-", "-", "-"
        else:
            met = "-" if r["name"] in (BARE, BARE_GC) else ("yes" if r["met"] else "**no**")
            time_ratio, cpu_ratio = f"{r['time_ratio']:.2f}", f"{r['cpu_ratio']:.2f}"
            rss_ratio = f"{r['rss_ratio']:.2f}"
        lines.append(
            f"| {r['name']} | {r['init_median']:.0f} | {r['init_p90']:.0f} | {time_ratio} | {time_ratio_gc} "
            f"| {r['import_median']:.0f} | {r['invoke_median']:.0f} | {r['cpu_median']:.0f} | {cpu_ratio} "
            f"| {r['rss_median']:.1f} | {rss_ratio} | {r['gc_runs']:.0f} | {met} |"
        )
    return "\n".join(lines)


def render_breakdown(targets: list[Target], top: int = 12) -> str:
    """Import self-time by top-level package (one -X importtime run each; relative, not exact)."""
    measured = [t for t in targets if t.importtime]
    if not measured:
        return "(no import-time data)"
    packages = sorted(
        {p for t in measured for p in t.importtime},
        key=lambda p: -max(t.importtime.get(p, 0.0) for t in measured),
    )
    shown = packages[:top]
    names = [t.name.removesuffix("Function") for t in measured]
    lines = ["| package | " + " | ".join(names) + " |", "|---|" + "---|" * len(measured)]
    for p in shown:
        lines.append(f"| {p} | " + " | ".join(f"{t.importtime.get(p, 0.0):.1f}" for t in measured) + " |")
    rest = [sum(v for p, v in t.importtime.items() if p not in shown) for t in measured]
    lines.append("| (everything else) | " + " | ".join(f"{v:.1f}" for v in rest) + " |")
    lines.append("| **total** | " + " | ".join(f"{sum(t.importtime.values()):.1f}" for t in measured) + " |")
    return "\n".join(lines)


def render_checks(targets: list[Target], observed: dict[str, Any]) -> str:
    lines = [
        "| function | status codes | log lines/run | EMF docs/run | X-Ray docs/run | DynamoDB calls/run |",
        "|---|---|---|---|---|---|",
    ]
    for t in targets:
        n = len(t.results) or 1
        key = t.name.replace(" ", "-")
        ddb = {op: c for (who, op), c in observed["calls"].items() if who == key}
        calls = ", ".join(f"{op} {c / n:g}" for op, c in sorted(ddb.items())) or "0"
        statuses = ", ".join(f"{s} x{c}" for s, c in sorted(t.statuses.items(), key=str)) or "-"
        lines.append(
            f"| {t.name} | {statuses} | {t.log_lines / n:g} | {t.emf_lines / n:g} "
            f"| {observed['xray'][t.name] / n:g} | {calls} |"
        )
    return "\n".join(lines)


def _runs_from(value: str | None) -> int:
    runs = int(value) if value else DEFAULT_RUNS
    return max(MIN_RUNS, min(MAX_RUNS, runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", help=f"cold starts per function ({MIN_RUNS}-{MAX_RUNS}; env BENCH_RUNS)")
    parser.add_argument("--only", help="measure only functions whose logical id contains this")
    parser.add_argument(
        "--steps",
        action="store_true",
        help="also measure bench/steps/: from the bare handler to a function, one layer at a time",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--powertools",
        metavar="VERSION",
        help="measure with this Powertools release instead of the pinned one (its own venv)",
    )
    args = parser.parse_args(argv)
    runs = _runs_from(args.runs or os.environ.get("BENCH_RUNS"))

    started = time.perf_counter()
    python = ensure_venv(powertools=args.powertools)
    versions = installed_versions(python)
    with tempfile.TemporaryDirectory(prefix="bench-cold-start-") as stage:
        targets = load_targets(Path(stage), steps=args.steps)
        if args.only:
            only = args.only.lower()
            targets = [t for t in targets if t.kind not in ("function", "trigger") or only in t.name.lower()]
        base_ms, base_rss = interpreter_baseline(python, 5)
        print(
            f"cold start: {runs} fresh processes per function, Python {platform.python_version()} "
            f"(Lambda runs python3.13), {', '.join(f'{k} {v}' for k, v in versions.items())}",
            flush=True,
        )
        observed = measure(python, targets, runs)
    rows = summarise(targets)

    print()
    print(render_table(rows))
    print(
        "\ninit = import of the handler module + its first invocation, timed inside each fresh process "
        "(x bare: ratio of medians; x bare, GC paused: against the bare handler given the functions'\n"
        "garbage-collection treatment, so that pausing the collector is not counted as a saving);\n"
        "CPU ms = the same span in CPU time (steadier on a busy machine); "
        "peak RSS = VmHWM at the end of the first invocation;\n"
        "GC runs = garbage collections during init (gc.callbacks).\n"
        f"Nothing is subtracted: the interpreter alone (`python -c pass`) takes {base_ms:.0f} ms wall "
        f"and {base_rss:.1f} MiB."
    )
    print(f"\nImport self-time by top-level package, ms (median of {IMPORTTIME_RUNS} -X importtime runs):\n")
    print(render_breakdown(targets))
    print("\nWhat each first invocation did (logging, metrics and tracing must be on):\n")
    print(render_checks(targets, observed))
    for t in targets:
        for failure in t.failures[:1]:
            print(f"\n{t.name} FAILED ({len(t.failures)}x):\n{failure}", file=sys.stderr)
        answered = TRIGGER_ANSWERED if t.kind == "trigger" else None
        unexpected = {
            s: n for s, n in t.statuses.items() if s != answered and (not isinstance(s, int) or s >= 300)
        }
        if unexpected:
            print(f"\nwarning: {t.name} answered {unexpected}: not the path a user takes", file=sys.stderr)
    print(f"\n({time.perf_counter() - started:.0f} s)")

    if args.json:
        raw = {
            "runs": runs,
            "python": platform.python_version(),
            "versions": versions,
            "baseline": {"wall_ms": base_ms, "rss_mib": base_rss},
            "summary": rows,
            "importtime": {t.name: t.importtime for t in targets},
            "results": {t.name: t.results for t in targets},
        }
        args.json.write_text(json.dumps(raw, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
