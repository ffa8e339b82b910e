"""Random ids the local cloud makes for requests, traces and the like: unique, not secret.

They are drawn from a generator seeded once from the system's, not from `os.urandom` (behind `uuid4`
and `secrets`) each time: that call lets go of the interpreter lock, and a GET drew five of them, each
a point where, under load, another of the cloud's threads took the lock and this one waited to get it
back (docs/performance.md). What must not be guessed (tokens, keys, codes) still comes from `secrets`.
"""

from __future__ import annotations

import random

_random = random.Random()  # noqa: S311 - seeded from os.urandom; ids, not secrets


def hex_digits(count: int) -> str:
    """`count` random lowercase hex digits."""
    return f"{_random.getrandbits(4 * count):0{count}x}"


def uuid4() -> str:
    """A version-4 UUID in its usual text form, as `str(uuid.uuid4())` writes it."""
    digits = hex_digits(32)
    variant = "89ab"[_random.getrandbits(2)]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def random_bytes(count: int) -> bytes:
    return _random.randbytes(count)
