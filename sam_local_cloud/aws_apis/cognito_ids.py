"""Cognito's formats for the ids and secrets moto makes (docs/aws-behaviour.md §4).

moto names a pool `us-east-1_<32 hex digits>`, a client with 32 hex digits and gives it a UUID as its
secret. Cognito's are `{region}_` and 9 letters and digits, 26 lowercase letters and digits, and some
51 letters and digits; code that validates them (AWS's own JWT verifier checks the pool id) refuses
moto's. This module alone swaps moto's generators for Cognito's shapes, once, when the cloud starts.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits


def pool_id_suffix() -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(9))


def client_id() -> str:
    return "".join(secrets.choice(_LOWER_ALNUM) for _ in range(26))


def client_secret() -> str:
    return "".join(secrets.choice(_LOWER_ALNUM) for _ in range(51))


def use_cognito_formats() -> None:
    from moto.cognitoidp import models

    if getattr(models, "_cognito_formats", False):
        return

    def generate_id(strategy: str | None, *args: Any) -> str:
        # moto calls it with (region, name, config) for a pool and (pool id, secret?, config) for a client.
        return client_id() if "_" in str(args[0]) else pool_id_suffix()

    original_init = models.CognitoIdpUserPoolClient.__init__

    def client_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.secret = client_secret()

    models.generate_id = generate_id
    models.CognitoIdpUserPoolClient.__init__ = client_init  # type: ignore[method-assign]
    models._cognito_formats = True  # type: ignore[attr-defined]
