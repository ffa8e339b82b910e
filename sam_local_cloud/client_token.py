"""An access token from a local cloud for one of its machine clients, printed for the shell.

    TOKEN=$(python3 -m sam_local_cloud.client_token http://127.0.0.1:3000 ProductAdminClient)

The client's id and secret come from that cloud's outputs (sam_local_cloud/outputs.py finds them by the URL's
port), and the token from its token endpoint with the client_credentials grant, as

    curl -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials http://127.0.0.1:3000/oauth2/token

does. Without a client name, the machine client with the most scopes. Whatever goes wrong (no cloud
there, outputs left by another run, a client the cloud does not know) is one line on stderr, exit 1.
Standard library only: it runs with any python3, without .venv.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sam_local_cloud import outputs as local_outputs

DEFAULT_URL = f"http://127.0.0.1:{local_outputs.DEFAULT_PORT}"


class Refused(Exception):
    """What went wrong, in one line for the user."""


def machine_clients(outputs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: client
        for name, client in outputs.get("Clients", {}).items()
        if "client_credentials" in client.get("AllowedOAuthFlows", []) and client.get("ClientSecret")
    }


def token(url: str, client: str | None = None, outputs_path: Path | None = None) -> str:
    path = outputs_path or local_outputs.find(url)
    try:
        outputs = local_outputs.read(path, url)
    except local_outputs.OutputsNotFound:
        raise
    except (OSError, ValueError) as error:
        raise Refused(f"cannot read {path}: {error}") from None
    clients = machine_clients(outputs)
    if not clients:
        raise Refused(f"{path} names no machine client (client_credentials with a secret)")
    name = client or max(clients, key=lambda c: len(clients[c].get("AllowedScopes", [])))
    if name not in clients:
        raise Refused(f"{path} has no machine client {name}: pick one of {', '.join(sorted(clients))}")
    credentials = f"{clients[name]['ClientId']}:{clients[name]['ClientSecret']}".encode()
    token_url = outputs.get("TokenUrl") or f"{url.rstrip('/')}/oauth2/token"
    request = urllib.request.Request(  # noqa: S310 - the local cloud's own http:// token endpoint
        token_url,
        data=b"grant_type=client_credentials",
        headers={
            "Authorization": "Basic " + base64.b64encode(credentials).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - as above
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read().decode(errors="replace")
        raise Refused(
            f"the token endpoint {token_url} refused {name}: {error.code} {body} "
            f"({path} may be left from an earlier run: restart the cloud to write it again)"
        ) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise Refused(
            f"no local cloud answers at {token_url} ({reason}): start it with `make local`; "
            f"{path} is left from a cloud that did not stop cleanly"
        ) from None
    except ValueError:
        raise Refused(f"{token_url} did not answer with JSON: is it a local cloud?") from None
    if not isinstance(answer, dict) or "access_token" not in answer:
        raise Refused(f"{token_url} answered without an access token: {answer}")
    return str(answer["access_token"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m sam_local_cloud.client_token", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("url", nargs="?", default=DEFAULT_URL, help=f"the local cloud ({DEFAULT_URL})")
    parser.add_argument("client", nargs="?", help="the app client's logical id (default: the widest)")
    parser.add_argument("--outputs", type=Path, help="the cloud's outputs file (default: found by port)")
    args = parser.parse_args(argv)
    try:
        print(token(args.url, args.client, args.outputs))
    except (Refused, local_outputs.OutputsNotFound, ValueError) as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
