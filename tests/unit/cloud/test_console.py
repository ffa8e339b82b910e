"""sam_local_cloud/console.py: one console line per request part, control characters shown escaped, a
function's metrics (CloudWatch embedded metric format) in one short line."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from sam_local_cloud.console import escaped, function_logs, request_line, say


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /v1/products 200", "GET /v1/products 200"),
        ("a\nb", "a\\nb"),
        ("a\rb", "a\\rb"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("nul\x00", "nul\\x00"),
        ("del\x7f", "del\\x7f"),
        ("c1\x85", "c1\\x85"),
        ("line\u2028separator", "line\\u2028separator"),
        ("café ✓", "café ✓"),
    ],
)
def test_control_characters_are_escaped(text: str, expected: str) -> None:
    assert escaped(text) == expected


def test_tab_is_kept() -> None:
    assert escaped("a\tb") == "a\tb"


def test_say_prints_each_line_of_multi_line_text_on_its_own_line(capsys: pytest.CaptureFixture[str]) -> None:
    say("first\nsecond", "third")
    assert capsys.readouterr().out == "first\nsecond\nthird\n"


def test_say_cannot_be_made_to_print_a_forged_line(capsys: pytest.CaptureFixture[str]) -> None:
    say("GET /v1/x\r\x1b[2K200 forged 0.1 ms")
    assert capsys.readouterr().out == "GET /v1/x\\r\\x1b[2K200 forged 0.1 ms\n"


def emf(*metrics: tuple[str, float]) -> str:
    """What Powertools' Metrics prints at the end of an invocation (its EMF document, one line)."""
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    recorder = Metrics(namespace="ProductApi", service="product-api")
    for name, value in metrics:
        recorder.add_metric(name=name, unit=MetricUnit.Count, value=value)
    document = recorder.serialize_metric_set()
    recorder.clear_metrics()
    return json.dumps(document, separators=(",", ":"))


def test_a_metrics_document_is_one_short_line_and_other_logs_are_untouched() -> None:
    logged = '{"level":"INFO","message":"listed","_aws_note":"not EMF"}'
    not_emf = '{"_aws": "a field of the function\'s own"}'

    shown = function_logs([emf(("ColdStart", 1)), logged, not_emf, "plain text"])

    assert shown == ["metrics ProductApi: ColdStart 1 Count", logged, not_emf, "plain text"]


def test_every_metric_of_a_document_is_on_its_line() -> None:
    (shown,) = function_logs([emf(("ProductCreated", 1), ("ProductsListed", 2.5))])

    assert shown == "metrics ProductApi: ProductCreated 1 Count, ProductsListed 2.5 Count"


def test_the_console_shows_a_cold_starts_metrics_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    invocation = SimpleNamespace(function="GetProductFunction", cold_start=True, logs=[emf(("ColdStart", 1))])

    request_line("GET", "/v1/products/1", 200, invocation, 3.0)  # type: ignore[arg-type]

    assert capsys.readouterr().out.splitlines() == [
        "GET /v1/products/1 200 GetProductFunction 3.0 ms (cold start)",
        "metrics ProductApi: ColdStart 1 Count",
    ]
