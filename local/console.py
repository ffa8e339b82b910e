"""The local cloud's console: one line per request, then that request's function logs.

Lines from concurrent requests never interleave: each request prints as one block.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from local.runner import Invocation

_lock = threading.Lock()


def say(*lines: str) -> None:
    with _lock:
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()


def request_line(
    method: str, path: str, status: int, invocation: Invocation | None, latency_ms: float
) -> None:
    function = invocation.function if invocation else "-"
    cold = " (cold start)" if invocation and invocation.cold_start else ""
    line = f"{method} {path} {status} {function} {latency_ms:.1f} ms{cold}"
    say(line, *(invocation.logs if invocation else ()))
