"""The local cloud's console: one line per request, then that request's function logs.

Lines from concurrent requests never interleave: each request prints as one block. Control
characters are shown escaped, so nothing a client sends (a path with %0A in it) can forge a line.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sam_local_cloud.lambda_.runner import Invocation

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


def function_logs(lines: Iterable[str]) -> list[str]:
    """A function's log lines for the console: each CloudWatch embedded metric format document (what
    Powertools' Metrics prints, such as ColdStart on every cold start) as one short line. The function
    prints it whole, as on AWS, where CloudWatch reads it; `make invoke` shows it whole."""
    return [_metrics_line(line) or line for line in lines]


def _metrics_line(line: str) -> str | None:
    """`metrics ProductApi: ColdStart 1 Count` for an EMF document, None for any other line."""
    if not line.startswith("{") or '"_aws"' not in line:
        return None
    try:
        document = json.loads(line)
        directives = document["_aws"]["CloudWatchMetrics"]
        shown = []
        for directive in directives:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                numbers = " ".join(f"{v:g}" for v in values)
                shown.append((directive["Namespace"], f"{metric['Name']} {numbers} {metric.get('Unit', '')}"))
    except (ValueError, KeyError, TypeError):
        return None  # not EMF after all: shown as it is
    if not shown:
        return None
    namespaces = dict.fromkeys(namespace for namespace, _ in shown)
    return f"metrics {', '.join(namespaces)}: " + ", ".join(metric.strip() for _, metric in shown)


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
    say(line, *function_logs(invocation.logs if invocation else ()))
