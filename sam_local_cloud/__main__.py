"""`make local`: the local cloud on 127.0.0.1:PORT, for the SAM template in this folder.

    sam-local-cloud [--port 3000] [--seed FILE] [--users FILE] [--parameter-overrides KEY=VALUE ...]
                    [--template FILE[:STACK] ...] [--signing-key FILE] [--no-throttle] [--concurrency N]
                    [--allow-unenforced] [--state DIR] [--fresh]

--seed FILE preloads the table: one item or a JSON list of items as the handlers store them, in plain
JSON or in DynamoDB JSON (the form `aws dynamodb put-item --item` takes, e.g. events/seed_item.json):
    [{"id": "3f1c9a52-...", "name": "Espresso cup", "price": 12.5, "currency": "EUR", "version": 1, ...}]
--users FILE creates people in the user pool (default events/users.json with the default template), each
confirmed, with a password and in the template's groups:
    [{"Username": "viewer@example.com", "Password": "...", "Groups": ["product-viewers"]}]
State (the pool, its clients and secrets, people, API keys, every table's items, the signing key...)
is kept across restarts in .local/state/ beside the template, one folder per template, stack (or set
of stacks served together), region and port (--state DIR for another); --fresh deletes it first.
--template may be given several times: each template is served as a stack of its own (named STACK,
else samconfig.toml's beside it), in that order, in one local AWS; a later one imports the exports of
those before it (Fn::ImportValue), and the last one is the main stack (its REST API on PORT).
Ctrl-C stops the server and every function worker, and saves the state.

Imports stay inside main(): function workers start quickly and never import this.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from sam_local_cloud.lambda_.runner import LOCAL_ENVIRONMENTS

    parser = argparse.ArgumentParser(prog="sam-local-cloud", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=3000, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--seed", type=Path, help="JSON list of items to preload into the table")
    parser.add_argument(
        "--users",
        type=Path,
        help="JSON list of people to create in the user pool "
        "(default: the users of local-cloud.toml beside the template)",
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, as for sam deploy (e.g. RequireApiKey=true)",
    )
    parser.add_argument(
        "--outputs",
        type=Path,
        help="where to write the outputs, removed on stop (default .local/outputs.json on port 3000, "
        ".local/outputs-PORT.json on another port)",
    )
    parser.add_argument(
        "--template",
        type=_stack_source,
        action="append",
        default=[],
        metavar="FILE[:STACK]",
        help="the SAM template (default template.yaml), as stack STACK (default: samconfig.toml's); "
        "repeat it to serve several stacks together, the main one last",
    )
    parser.add_argument(
        "--signing-key",
        type=Path,
        metavar="FILE",
        help="the pool's RS256 key as PEM, made there if missing: tokens then outlive a restart",
    )
    parser.add_argument(
        "--no-throttle",
        action="store_true",
        help="turn off the stage's and usage plans' throttling and quotas (for load tests)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive,
        default=None,
        metavar="N",
        help="model a smaller account: each function without ReservedConcurrentExecutions runs at most "
        "N calls at once, and calls beyond them are throttled as Lambda throttles them (default: none "
        f"are, as in a standard account; calls beyond the {LOCAL_ENVIRONMENTS} environments a function "
        "runs at once locally wait for one)",
    )
    parser.add_argument(
        "--allow-unenforced",
        action="store_true",
        help="serve what the local cloud cannot enforce (Lambda or IAM authorizers, ...) unenforced, "
        "marking each such request in the console, instead of refusing to start",
    )
    parser.add_argument(
        "--state",
        type=Path,
        metavar="DIR",
        help="where the state is kept across restarts "
        "(default .local/state/TEMPLATE-STACK-REGION-PORT beside the template, STACK being the stacks' "
        "names joined by + when several are served; none with --port 0)",
    )
    parser.add_argument("--fresh", action="store_true", help="start clean: delete the saved state first")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 up, got {text!r}")
    return int(text)


def _stack_source(text: str) -> tuple[Path, str | None]:
    """FILE or FILE:STACK (a stack name: a letter, then letters, digits and hyphens)."""
    path, sep, name = text.rpartition(":")
    if not sep or not path or Path(text).exists():
        return Path(text), None
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", name):
        if Path(path).exists():  # a template with a stack name CloudFormation would not take
            raise argparse.ArgumentTypeError(
                f"stack name {name!r}: CloudFormation takes a letter, then letters, digits and hyphens, "
                "128 characters at most"
            )
        return Path(text), None
    return Path(path), name


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

    from botocore.exceptions import ParamValidationError

    from sam_local_cloud import console
    from sam_local_cloud.cloud import LocalCloud, Options
    from sam_local_cloud.cloudformation.resolve import Unresolvable
    from sam_local_cloud.project import stack_name_of
    from sam_local_cloud.state import default_directory

    options = Options(
        port=args.port,
        parameter_overrides=_overrides(args.parameter_overrides),
        seed=args.seed,
        users=args.users,  # else the people of the template's local-cloud.toml, if it has one
        outputs_path=args.outputs,  # else by port: sam_local_cloud/outputs.py
        signing_key=args.signing_key,
        throttling=not args.no_throttle,
        concurrency=args.concurrency,
        allow_unenforced=args.allow_unenforced,
        fresh=args.fresh,
    )
    if args.template:
        *others, (main, main_stack) = args.template
        options.template = main.resolve()
        options.stack_name = main_stack
        options.stacks = [(path.resolve(), name) for path, name in others]
    options.template = options.template.resolve()
    for path in [options.template, *(path for path, _ in options.stacks)]:
        if not path.is_file():
            print(f"--template {path}: no such file", file=sys.stderr)
            return 1
    if args.state is not None:
        options.state_dir = args.state
    elif args.port:  # a cloud on a port of its own keeps its state there; one on any free port, none
        # One folder per set of stacks served together (their names, the main one last).
        options.state_dir = default_directory(
            options.template,
            options.stack_name or stack_name_of(options.template),
            options.region,
            args.port,
            tuple(name or stack_name_of(path) for path, name in options.stacks),
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
        except (SystemExit, KeyboardInterrupt):
            raise  # SystemExit: a named refusal, its message already says what and why
        except ParamValidationError as error:
            # CloudFormation would refuse the resource too: its properties are not what its API takes.
            print(
                f"the local cloud cannot start on {options.template}: a resource's properties: {error}",
                file=sys.stderr,
            )
            return 1
        except Unresolvable as error:
            # A value CloudFormation would have, of a resource the local cloud does not make.
            print(
                f"the local cloud cannot start on {options.template}: {error} (the template uses a value "
                "of a resource the local cloud does not make, or one it cannot know locally)",
                file=sys.stderr,
            )
            return 1
        except Exception as error:
            # Never a traceback for a template the local cloud cannot read: one line that names it.
            print(
                f"the local cloud could not start on {options.template}: {type(error).__name__}: {error}\n"
                "(a template the local cloud does not understand: please report it; "
                "LOCAL_CLOUD_TRACEBACK=1 shows where it failed)",
                file=sys.stderr,
            )
            if os.environ.get("LOCAL_CLOUD_TRACEBACK"):
                raise
            return 1
        console.say(*banner(cloud))
        while not stopping.wait(0.5):
            pass
        console.say("stopping: function workers terminated")
    finally:
        cloud.stop()
    if cloud.state is not None and cloud.state.saved_at_stop:
        console.say(
            f"state saved in {_shown(cloud.state.directory)}/ (`{cloud.project.fresh_command}` starts clean)"
        )
    return 0


JWKS = ".well-known/jwks.json"  # under the pool id, as Cognito serves it


def _title(name: str) -> str:
    """`product-api local cloud`, or just `local cloud` for a project that names none."""
    return name if name.endswith("local cloud") else f"{name} local cloud"


def banner(cloud: Any) -> list[str]:
    from sam_local_cloud.cloudformation.inventory import report

    spec, outputs, base = cloud.spec, cloud.outputs, cloud.base_url
    several = len(cloud.stacks) > 1
    rest_apis = cloud.rest_api_urls
    named = len({stack for stack, _, _ in rest_apis}) < len(rest_apis)  # a stack with several: each named
    api_lines = [
        f"  API         {url}"
        + (f"  ({logical_id})" if named else "")
        + (f"  (stack {name})" if several else "")
        for name, logical_id, url in rest_apis
    ]
    api_lines += [
        f"  API stage   {url}  ({logical_id}{f', stack {name}' if several else ''})"
        for name, logical_id, url in cloud.further_stage_urls
    ]
    api_lines += [f"  HTTP API    {url}  ({name})" for name, url in cloud.http_api_urls.items()]
    routes, api_url, refusal = _example_api(cloud)
    notes = any(stack.spec.not_honoured or stack.outputs_left_out for stack in cloud.stacks)
    lines = ["Not honoured locally (declared in the template):"] if notes else []
    for stack in cloud.stacks:
        prefix = f"{stack.name}: " if several else ""
        lines += [f"  - {prefix}{note}" for note in stack.spec.not_honoured]
        lines += [
            f"  - {prefix}output {name}: {why}, so it is left out of the outputs"
            for name, why in stack.outputs_left_out.items()
        ]
    for stack in cloud.stacks:
        if stack.made is not None:
            lines += [f"Stack {stack.name}"] if several else []
            lines += report(stack.made.resources.values())
    if spec.unenforceable:
        lines += ["SERVED UNENFORCED (--allow-unenforced; each request is marked):"]
        lines += [f"  - {item}" for item in spec.unenforceable]
    throttling = "on, as declared" if cloud.options.throttling else "OFF (--no-throttle)"
    throttled = " or ".join(
        ([] if spec.api is None else ["500 (REST API)"]) + (["503 (HTTP API)"] if spec.http_apis else [])
    )
    lines += [
        "",
        f"{_title(cloud.project.name)} ready in {cloud.startup_seconds:.2f} s",
        *api_lines,
        *([f"  Token URL   {base}/oauth2/token"] if cloud.pool else []),
        *(
            [f"  API page    {cloud.page_url}  (Authorize: a person signs in, or a client's id and secret)"]
            if cloud.page_url
            else []
        ),
        f"  AWS APIs    {base}  (the template's resources, CloudFormation's "
        + (f"stacks {', '.join(s.name for s in cloud.stacks)})" if several else f"stack {cloud.stack_name})"),
        *(
            [f"  Issuer      {cloud.pool.issuer}  (AWS's; the keys at {base}/{cloud.pool.pool_id}/{JWKS})"]
            if cloud.pool
            else []
        ),
        f"  Throttling  {throttling}",
        f"  Functions   {_concurrency(cloud, throttled or '-')}",
        f"  Outputs     {cloud.outputs_path}  (removed when the cloud stops)",
        *_state_lines(cloud),
    ]
    if cloud.seeded is not None:
        lines.append(f"  Seeded      {cloud.seeded} item(s) from {cloud.options.seed}")
    lines += _people_lines(cloud)
    if cloud.triggers is not None and (cloud.triggers.served or cloud.triggers.not_reproduced):
        lines += ["  Event sources (a schedule fires now with: python -m sam_local_cloud.fire NAME)"]
        lines += [f"  {line}" for line in cloud.triggers.report()]
    lines += [
        "",
        "# the AWS CLI and boto3 against the local cloud (any credentials do):",
        *aws_exports(base, cloud.options.region),
        "",
        *_examples(routes, outputs, base, api_url, refusal),
        *_person_examples(cloud, routes, api_url, refusal),
        "",
    ]
    return lines


def _concurrency(cloud: Any, throttled: str) -> str:
    """Where calls wait for an environment, and where they are throttled (docs/aws-behaviour.md §7)."""
    from sam_local_cloud.lambda_.runner import LOCAL_ENVIRONMENTS

    functions = cloud.runner.functions.values() if cloud.runner else []
    reserved = sorted(
        f"{e.config.logical_id} {e.limit}" for e in functions if e.config.reserved_concurrency is not None
    )
    account = cloud.options.concurrency
    limits = [f"{account} calls at once each (--concurrency)"] if account else []
    limits += [f"their ReservedConcurrentExecutions ({', '.join(reserved)})"] if reserved else []
    line = f"up to {LOCAL_ENVIRONMENTS} execution environments each at once; further calls wait for one"
    if not limits:
        return line + " (never throttled, as in a standard account's 1,000 concurrent executions)"
    return line + f"; throttled beyond {' and '.join(limits)}: {throttled}, as API Gateway answers it"


def _state_lines(cloud: Any) -> list[str]:
    """Where the state is kept, whether it was, and what changed in the template since
    (sam_local_cloud/state.py)."""
    state = cloud.state
    if state is None:
        return ["  State       in memory only: lost when the cloud stops"]
    how = f"kept from {state.restored_from}" if state.restored_from else "new"
    lines = [
        f"  State       {_shown(state.directory)}/  ({how}; `{cloud.project.fresh_command}` starts clean)"
    ]
    return lines + [f"  Template    {change}" for change in cloud.template_changes]


def _shown(path: Path) -> Path:
    """A path as the banner shows it: from the current folder when it is under it."""
    with contextlib.suppress(ValueError):
        return path.relative_to(Path.cwd())
    return path


def _example_api(cloud: Any) -> tuple[list[Any], str, str]:
    """The routes with a function (not those behind a Lambda authorizer: the examples send the pool's
    tokens), the URL and the missing-scope status of the API the examples call: the REST API, else the
    first HTTP API."""
    spec = cloud.spec
    if spec.api is not None:
        lambda_authorized = spec.api.lambda_authorizers
        routes = [r for r in spec.api.routes if r.function and r.authorizer not in lambda_authorized]
        return routes, f"{cloud.base_url}/{spec.api.stage}", "401"
    if spec.http_apis:
        name, url = next(iter(cloud.http_api_urls.items()))
        api = next(a for a in spec.http_apis if a.logical_id == name)
        routes = [r for r in api.routes if r.function and r.resource != "$default"]
        return [r for r in routes if r.authorizer not in api.lambda_authorizers], url.rstrip("/"), "403"
    return [], cloud.base_url, "401"


def _people_lines(cloud: Any) -> list[str]:
    outputs = cloud.outputs
    lines = []
    if "SignInUrl" in outputs:
        lines.append(f"  Sign-in     {outputs['SignInUrl']}")
    for name, value in cloud.local_defaults.items():
        lines.append(
            f"  {name}={value}  (the local cloud's default; --parameter-overrides {name}=... to change it)"
        )
    users = outputs.get("Users", [])
    if users:
        people = ", ".join(f"{u['Username']} ({' '.join(u['Groups']) or 'no group'})" for u in users)
        lines.append(f"  People      {people}  (passwords in the outputs)")
    return lines


def _person_examples(cloud: Any, routes: list[Any], api_url: str, refusal: str) -> list[str]:
    """A person signs in through the sign-in API (as boto3's initiate_auth does) and meets their scopes."""
    outputs, base = cloud.outputs, cloud.base_url
    project = cloud.project
    client_id = outputs.get(project.user_client_output) if project.user_client_output else None
    users = outputs.get("Users", [])
    if not client_id or not users or not _password_sign_in(cloud, client_id):
        return []
    granted = _group_scopes(cloud)
    routes = [r for r in routes if r.scopes]

    def scopes_of(user: dict[str, Any]) -> set[str]:
        return set().union(*(granted.get(g, set()) for g in user["Groups"]))

    person = min(users, key=lambda u: len(scopes_of(u)))
    allowed = [r for r in routes if not set(r.scopes).isdisjoint(scopes_of(person))]
    refused = [r for r in routes if set(r.scopes).isdisjoint(scopes_of(person))]
    request = json.dumps(
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": client_id,
            "AuthParameters": {"USERNAME": person["Username"], "PASSWORD": person["Password"]},
        }
    )
    lines = [
        "",
        f"# {person['Username']} ({', '.join(person['Groups'])}) signs in through the sign-in API",
        "PERSON=$(curl -s -H 'X-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth' "
        f"-H 'Content-Type: application/x-amz-json-1.1' -d {shlex.quote(request)} {base}/ "
        "| python3 -c 'import json,sys; "
        'print(json.load(sys.stdin)["AuthenticationResult"]["AccessToken"])\')',
    ]
    key_header = f" -H 'x-api-key: {outputs['ApiKey']}'" if "ApiKey" in outputs else ""
    listing = next((r for r in allowed if r.method == "GET" and "{" not in r.resource), None)
    if listing:
        lines += [f'curl -s{key_header} -H "Authorization: Bearer $PERSON" {api_url}{listing.resource}']
    if refused:
        route = sorted(refused, key=lambda r: (r.method != "POST", r.resource))[0]
        path = route.resource.replace("{", "").replace("}", "")
        lines += [
            f"# their groups do not grant {' or '.join(route.scopes)}: {refusal}",
            f'curl -si -X {route.method}{key_header} -H "Authorization: Bearer $PERSON" '
            f"-H 'Content-Type: application/json' -d '{{}}' {api_url}{path}",
        ]
    return lines


def _password_sign_in(cloud: Any, client_id: str) -> bool:
    """Whether the client lets people sign in with a password (ALLOW_USER_PASSWORD_AUTH)."""
    for client in cloud.outputs.get("Clients", {}).values():
        if client.get("ClientId") == client_id:
            return "ALLOW_USER_PASSWORD_AUTH" in client.get("ExplicitAuthFlows", [])
    return False


def _group_scopes(cloud: Any) -> dict[str, set[str]]:
    """Groups -> scopes as the project says its trigger declares them (local-cloud.toml's people)."""
    variable = cloud.project.group_scopes_variable
    for config in cloud.runner.configs.values():
        if variable and variable in config.variables:
            try:
                return {g: set(s) for g, s in json.loads(config.variables[variable]).items()}
            except (ValueError, AttributeError, TypeError):
                return {}
    return {}


def aws_exports(endpoint: str, region: str) -> list[str]:
    return [
        f"export AWS_ENDPOINT_URL={endpoint} AWS_REGION={region} AWS_DEFAULT_REGION={region}",
        "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
    ]


def _examples(routes: list[Any], outputs: dict[str, Any], base: str, api_url: str, refusal: str) -> list[str]:
    """Copy-paste curl commands, chosen from the template: the widest client, a list route, a refused call."""
    clients = {
        name: c for name, c in outputs["Clients"].items() if "client_credentials" in c["AllowedOAuthFlows"]
    }
    if not clients:
        return []
    widest = max(clients, key=lambda c: len(clients[c]["AllowedScopes"]))
    narrowest = min(clients, key=lambda c: len(clients[c]["AllowedScopes"]))
    key_header = f" -H 'x-api-key: {outputs['ApiKey']}'" if "ApiKey" in outputs else ""

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
            f"# {narrowest} lacks {' or '.join(route.scopes)}: {refusal}",
            token("READER", narrowest),
            f'curl -si -X {route.method}{key_header} -H "Authorization: Bearer $READER" '
            f"-H 'Content-Type: application/json' -d '{{}}' {api_url}{path}",
        ]
    return lines


if __name__ == "__main__":
    sys.exit(main())
