"""Helpers of the trigger tests: the recorder function (tests/fixtures/functions/recorder.py) in real
worker processes, and what it noted."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sam_local_cloud.lambda_.functions import FunctionConfig
from sam_local_cloud.lambda_.runner import Runner
from tests.e2e.support import FIXTURES

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION = "RecorderFunction"
FUNCTION_NAME = "recorder"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}"


def recorder_runner(record_to: Path, **variables: str) -> Runner:
    config = FunctionConfig(
        logical_id=FUNCTION,
        name=FUNCTION_NAME,
        arn=FUNCTION_ARN,
        handler="recorder.handler",
        code_dir=FIXTURES / "functions",
        runtime="python3.13",
        timeout_seconds=10,
        memory_mb=128,
        log_group=f"/aws/lambda/{FUNCTION_NAME}",
        reserved_concurrency=None,
        variables={"RECORD_TO": str(record_to), **variables},
    )
    return Runner({FUNCTION: config}, region=REGION, endpoint_url=None)


def recorded(path: Path) -> list[dict[str, Any]]:
    """The events the recorder was given, in order, each with its request id."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def wait_for(condition: Callable[[], Any], timeout: float = 10, what: str = "the condition") -> Any:
    """`condition()` once it is truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)
    return value


class Console:
    """What the event sources said, line by line (in place of sam_local_cloud/console.py's say)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, *lines: str) -> None:
        self.lines.extend(lines)

    def text(self) -> str:
        return "\n".join(self.lines)
