"""local/console.py: one console line per request part, control characters shown escaped."""

from __future__ import annotations

import pytest

from local.console import escaped, say


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
