"""`make local`: the local cloud on 127.0.0.1:PORT.

    python -m local [--port 3000] [--seed FILE] [--parameter-overrides RequireApiKey=true ...]

--seed FILE preloads the table: one item or a JSON list of items as the handlers store them, in plain
JSON or in DynamoDB JSON (the form `aws dynamodb put-item --item` takes, e.g. events/seed_item.json):
    [{"id": "3f1c9a52-...", "name": "Espresso cup", "price": 12.5, "currency": "EUR", "version": 1, ...}]
Ctrl-C stops the server and every function worker.

Imports stay inside main(): function workers start quickly and never import this.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=3000, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--seed", type=Path, help="JSON list of items to preload into the table")
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, as for sam deploy (e.g. RequireApiKey=true)",
    )
    parser.add_argument(
        "--outputs", type=Path, help="where to write the outputs (default .local/outputs.json)"
    )
    parser.add_argument(
        "--test-hooks",
        type=Path,
        metavar="DIR",
        help="TEST ONLY (the e2e suite): record every gateway event to DIR/events.jsonl and let the token "
        "endpoint mint expired or ID-token-shaped tokens on request. Never use it for anything else.",
    )
    return parser.parse_args(argv)


def _overrides(pairs: list[str]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--parameter-overrides: expected KEY=VALUE, got {pair!r}")
        result[key] = value
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # feature-toggle chatter

    from local import console
    from local.cloud import DEFAULT_OUTPUTS, LocalCloud, Options

    options = Options(
        port=args.port,
        parameter_overrides=_overrides(args.parameter_overrides),
        seed=args.seed,
        outputs_path=args.outputs or DEFAULT_OUTPUTS,
        test_hooks=args.test_hooks,
    )
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    cloud = LocalCloud(options)
    try:
        try:
            cloud.start()
        except OSError as error:
            print(f"cannot serve on 127.0.0.1:{args.port}: {error.strerror or error}", file=sys.stderr)
            return 1
        console.say(*banner(cloud))
        while not stopping.wait(0.5):
            pass
        console.say("stopping: function workers terminated")
    finally:
        cloud.stop()
    return 0


def banner(cloud: Any) -> list[str]:
    spec, outputs, base = cloud.spec, cloud.outputs, cloud.base_url
    api_url = f"{base}/{spec.api.stage}"
    lines = ["Not honoured locally (declared in template.yaml):"]
    lines += [f"  - {note}" for note in spec.not_honoured]
    lines += [
        "",
        f"product-api local cloud ready in {cloud.startup_seconds:.2f} s",
        f"  API         {api_url}",
        f"  Token URL   {base}/oauth2/token",
        f"  AWS APIs    {base}  (DynamoDB, Cognito: aws --endpoint-url {base} ...)",
        f"  Outputs     {cloud.options.outputs_path}",
    ]
    if cloud.seeded is not None:
        lines.append(f"  Seeded      {cloud.seeded} item(s) from {cloud.options.seed}")
    lines += ["", *_examples(spec, outputs, base, api_url), ""]
    return lines


def _examples(spec: Any, outputs: dict[str, Any], base: str, api_url: str) -> list[str]:
    """Copy-paste curl commands, chosen from the template: the widest client, a list route, a refused call."""
    clients = outputs["Clients"]
    if not clients:
        return []
    widest = max(clients, key=lambda c: len(clients[c]["AllowedScopes"]))
    narrowest = min(clients, key=lambda c: len(clients[c]["AllowedScopes"]))
    key_header = f" -H 'x-api-key: {outputs['ApiKey']}'" if "ApiKey" in outputs else ""
    routes = [r for r in spec.api.routes if r.function]

    def allowed(client: str, route: Any) -> bool:
        return not route.scopes or not set(route.scopes).isdisjoint(clients[client]["AllowedScopes"])

    def token(variable: str, client: str) -> str:
        c = clients[client]
        return (
            f"{variable}=$(curl -s -u {shlex.quote(c['ClientId'] + ':' + c['ClientSecret'])} "
            f"-d grant_type=client_credentials {base}/oauth2/token "
            "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
        )

    lines = [f"# a token for {widest}", token("TOKEN", widest)]
    listing = next(
        (r for r in routes if r.method == "GET" and "{" not in r.resource and allowed(widest, r)), None
    )
    if listing:
        lines += [
            f"# {listing.method} {listing.resource}",
            f'curl -s{key_header} -H "Authorization: Bearer $TOKEN" {api_url}{listing.resource}',
        ]
    refused = sorted(
        (r for r in routes if not allowed(narrowest, r)), key=lambda r: (r.method != "POST", r.resource)
    )
    if refused and narrowest != widest:
        route = refused[0]
        path = route.resource.replace("{", "").replace("}", "")
        lines += [
            f"# {narrowest} lacks {' or '.join(route.scopes)}: 401",
            token("READER", narrowest),
            f'curl -si -X {route.method}{key_header} -H "Authorization: Bearer $READER" '
            f"-H 'Content-Type: application/json' -d '{{}}' {api_url}{path}",
        ]
    return lines


if __name__ == "__main__":
    sys.exit(main())
