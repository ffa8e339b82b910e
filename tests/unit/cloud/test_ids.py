"""sam_local_cloud/ids.py: the ids the cloud makes per request are shaped as AWS's and do not repeat."""

from __future__ import annotations

import re
import uuid

from sam_local_cloud import ids


def test_uuid4_is_a_version_4_uuid_in_its_text_form() -> None:
    drawn = [ids.uuid4() for _ in range(2000)]
    for text in drawn:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
    assert len(set(drawn)) == len(drawn)
    assert {text[19] for text in drawn} == set("89ab")  # every variant digit, not one


def test_hex_digits_and_random_bytes_have_the_length_asked_for() -> None:
    for count in (1, 16, 24, 31):
        digits = ids.hex_digits(count)
        assert re.fullmatch(f"[0-9a-f]{{{count}}}", digits)
    assert len({ids.hex_digits(16) for _ in range(1000)}) == 1000
    assert len(ids.random_bytes(11)) == 11
