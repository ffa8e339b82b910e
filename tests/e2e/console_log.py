"""What the local cloud's console says about requests (sam_local_cloud/console.py): one line each,
`METHOD PATH STATUS FUNCTION LATENCY ms`, FUNCTION being `-` when no function ran."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

_REQUEST_LINE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<function>\S+) [\d.]+ ms")


@dataclass(frozen=True)
class Served:
    method: str
    path: str
    status: int
    function: str | None  # None: the gateway answered alone


class ConsoleLog:
    """The request lines the local cloud prints from now on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = path.stat().st_size

    def served(self, expected: int, timeout_seconds: float = 5.0) -> list[Served]:
        """The request lines since this reader was made, once there are `expected` of them."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            with self.path.open("rb") as log:
                log.seek(self.start)
                lines = log.read().decode(errors="replace").splitlines()
            found = [m for m in map(_REQUEST_LINE.match, lines) if m]
            if len(found) >= expected or time.monotonic() > deadline:
                return [
                    Served(
                        m["method"],
                        m["path"],
                        int(m["status"]),
                        None if m["function"] == "-" else m["function"],
                    )
                    for m in found
                ]
            time.sleep(0.05)
