"""The local cloud's console: one line per request, then that request's function logs.

Lines from concurrent requests never interleave: each request prints as one block. Control
characters are shown escaped, so nothing a client sends (a path with %0A in it) can forge a line.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from local.lambda_.runner import Invocation

_lock = threading.Lock()
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def escaped(text: str) -> str:
    """The text on one line: control characters (tab aside) as \\xNN or \\uNNNN."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def say(*lines: str) -> None:
    with _lock:
        for line in lines:
            for part in line.split("\n"):
                sys.stdout.write(escaped(part) + "\n")
        sys.stdout.flush()


def request_line(
    method: str,
    path: str,
    status: int,
    invocation: Invocation | None,
    latency_ms: float,
    marks: Iterable[str] = (),
) -> None:
    function = invocation.function if invocation else "-"
    cold = " (cold start)" if invocation and invocation.cold_start else ""
    notes = "".join(f" [{mark}]" for mark in marks)
    line = f"{escaped(method)} {escaped(path)} {status} {function} {latency_ms:.1f} ms{cold}{notes}"
    say(line, *(invocation.logs if invocation else ()))
