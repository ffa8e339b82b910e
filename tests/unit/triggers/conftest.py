"""Fixtures of the pollers' tests: the recorder function's output file and the seam that runs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sam_local_cloud.triggers.delivery import Deliveries
from tests.unit.triggers.support import Console, recorder_runner


@pytest.fixture
def record_to(tmp_path: Path) -> Path:
    return tmp_path / "events.jsonl"


@pytest.fixture
def deliveries(record_to: Path) -> Iterator[Deliveries]:
    runner = recorder_runner(record_to)
    deliveries = Deliveries(runner, say=Console())
    yield deliveries
    deliveries.stop()
    runner.stop()
