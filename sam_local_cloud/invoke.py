"""`make invoke`: run one function once on one event, without Docker (cf. `sam local invoke`).

    python -m sam_local_cloud.invoke GetProductFunction events/get_product.json [--seed events/seed_item.json]

The function runs exactly as under `make local` (its own worker process, its environment resolved
from the template, a Lambda context) against a fresh local cloud on a free port whose table is made
from the template; `--seed` preloads it. Prints the function's response as JSON; exits 1 when the
function raises, times out or cannot be loaded.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sam_local_cloud.invoke", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "function", help="logical id of an AWS::Serverless::Function, e.g. GetProductFunction"
    )
    parser.add_argument("event", type=Path, help="event JSON file, e.g. events/get_product.json")
    parser.add_argument(
        "--seed", type=Path, help="item(s) to store first (same format as python -m sam_local_cloud --seed)"
    )
    parser.add_argument("--parameter-overrides", nargs="+", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    logging.getLogger("samtranslator").setLevel(logging.ERROR)

    from sam_local_cloud.__main__ import _overrides
    from sam_local_cloud.cloud import LocalCloud, Options

    try:
        event = json.loads(args.event.read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"cannot read the event {args.event}: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        cloud = LocalCloud(
            Options(
                port=0,
                parameter_overrides=_overrides(args.parameter_overrides),
                seed=args.seed,
                outputs_path=Path(scratch) / "outputs.json",
            )
        )
        try:
            cloud.start()
            assert cloud.runner is not None
            if args.function not in cloud.runner.functions:
                print(
                    f"no function {args.function}; the template has {sorted(cloud.runner.functions)}",
                    file=sys.stderr,
                )
                return 2
            invocation = cloud.runner.invoke(args.function, event)
        finally:
            cloud.stop()
    for line in invocation.logs:
        print(line, file=sys.stderr)
    if invocation.error:
        print(f"{args.function} failed: {invocation.error}", file=sys.stderr)
        return 1
    print(json.dumps(invocation.payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
