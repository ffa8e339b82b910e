"""The Lambda proxy integration's call, shared by the REST and HTTP API gateways.

Each gateway waits for its function up to the route's integration timeout; past it, the gateway
answers on its own (504 on REST, 503 on an HTTP API) while the function runs on to its own Timeout,
as in Lambda, and its logs follow in the console when it ends.
"""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from sam_local_cloud import console
from sam_local_cloud.cloudformation.spec import Route
from sam_local_cloud.lambda_.runner import Invocation, Runner


def invoke(
    runner: Runner, route: Route, event: dict[str, Any], request_id: str, trace_id: str
) -> Invocation | None:
    """The function's invocation, or None when it outlived the route's integration timeout."""
    assert route.function is not None
    future = runner.submit(route.function, event, request_id, trace_id)
    try:
        return future.result(timeout=route.timeout_seconds)
    except FutureTimeout:
        future.add_done_callback(_late_logs)
        return None


def _late_logs(future: Future[Invocation]) -> None:
    invocation = future.result()
    console.say(
        f"{invocation.function} ended after the integration timeout ({invocation.duration_ms:.0f} ms)",
        *console.function_logs(invocation.logs),
    )
