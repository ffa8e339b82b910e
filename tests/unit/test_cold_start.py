"""Every function's cold start, in a fresh interpreter: garbage collection is paused before the handler
module's imports and back on, with what import made frozen, once the handler is built
(product_api/cold_start.py).

The functions come from the template: each one's Handler, with its own environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REGION, function_env

FUNCTIONS_DIR = "functions"
# Runs in the child: records, for every module loaded from here on, whether collection was on.
COLD_START = """
import gc, importlib, json, sys
loads = []
sys.addaudithook(lambda event, args: loads.append((args[0], gc.isenabled())) if event == "import" else None)
importlib.import_module(sys.argv[1])
print(json.dumps({"loads": loads, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def cold_start(template, logical_id: str) -> dict:
    """What a fresh interpreter saw importing the function's handler module, with its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}
    env |= {"AWS_DEFAULT_REGION": REGION, "PYTHONPATH": FUNCTIONS_DIR}
    env |= function_env(template, logical_id)
    child = subprocess.run(  # noqa: S603 (this interpreter, our own script)
        [sys.executable, "-c", COLD_START, handler_module(template, logical_id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout.splitlines()[-1])


def handler_module(template, logical_id: str) -> str:
    return template.resources[logical_id]["Properties"]["Handler"].rsplit(".", 1)[0]


def test_every_function_imports_with_garbage_collection_paused_then_resumes_it(template):
    functions = sorted(template.of_type("AWS::Lambda::Function"))
    assert functions

    for logical_id in functions:
        module = handler_module(template, logical_id)
        started = cold_start(template, logical_id)

        # What loads before the pause can run: the handler module, its packages, the module that pauses,
        # and __future__ (whose import must come first).
        before_the_pause = {".".join(module.split(".")[:n]) for n in range(1, module.count(".") + 2)}
        before_the_pause |= {"product_api.cold_start", "__future__"}
        loaded_while_collecting = [
            name for name, collecting in started["loads"] if collecting and name not in before_the_pause
        ]
        assert loaded_while_collecting == [], logical_id
        assert any(name.startswith("aws_lambda_powertools") for name, _ in started["loads"]), logical_id
        assert started["enabled"], logical_id
        assert started["frozen"] > 0, logical_id
