"""`make fire`: fire one of the template's schedules now, on the running local cloud.

    python -m sam_local_cloud.fire NAME [--outputs .local/outputs.json]
    python -m sam_local_cloud.fire --list

NAME is the schedule's logical id (a SAM `Schedule` event's rule, e.g. CleanupFunctionNightly, or a
`ScheduleV2` schedule), or its rule's or schedule's name. The cloud that wrote the outputs file (by
default `make local`'s) invokes each of its targets with the event it would send at this minute,
asynchronously, as EventBridge does; the function's logs show in that cloud's console. Standard
library only.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

SCHEDULES_PATH = "/_local/schedules"  # as sam_local_cloud/triggers/__init__.py serves it
DEFAULT_OUTPUTS = Path(".local") / "outputs.json"  # a cloud on port 3000 whose template is in this folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sam_local_cloud.fire", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("name", nargs="?", help="the schedule's logical id, or its rule's or schedule's name")
    parser.add_argument("--list", action="store_true", help="list the schedules and when each fires next")
    parser.add_argument(
        "--outputs", type=Path, default=DEFAULT_OUTPUTS, help="the running cloud's outputs file"
    )
    args = parser.parse_args(argv)
    if not args.list and not args.name:
        parser.error("name a schedule, or --list them")
    try:
        base = json.loads(args.outputs.read_text())["AwsEndpointUrl"]
    except (OSError, ValueError, KeyError):
        print(
            f"no running local cloud: {args.outputs} is missing (start one with `make local`)",
            file=sys.stderr,
        )
        return 1
    body = None if args.list else json.dumps({"schedule": args.name}).encode()
    url = base + SCHEDULES_PATH
    if not url.startswith(("http://", "https://")):
        print(f"{args.outputs}: AwsEndpointUrl is not an http URL: {base!r}", file=sys.stderr)
        return 1
    request = urllib.request.Request(  # noqa: S310 - an http(s) URL, checked above
        url, data=body, method="GET" if args.list else "POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - checked above
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        print(json.loads(error.read()).get("message", error.reason), file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"the local cloud at {base} does not answer: {error.reason}", file=sys.stderr)
        return 1
    if args.list:
        if not answer["schedules"]:
            print("the running cloud's template has no schedules")
        for item in answer["schedules"]:
            state = "" if item["enabled"] else " (DISABLED)"
            next_fire = item["next"] or "-"
            print(f"{item['schedule']}  {item['name']}  {item['expression']}{state}  next: {next_fire}")
    else:
        print(f"{answer['schedule']} ({answer['name']}): fired now, {answer['targets']} target(s) invoked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
