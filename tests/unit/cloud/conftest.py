"""Fixtures of the local cloud's unit tests: signing keys, made once (RSA keys are slow to make)."""

from __future__ import annotations

import pytest

from sam_local_cloud.cognito.tokens import SigningKey


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    """The pool's key: its public half is in the JWKS the authorizer trusts."""
    return SigningKey.generate()


@pytest.fixture(scope="session")
def other_key() -> SigningKey:
    """A key the pool never published: another pool's, or a forger's."""
    return SigningKey.generate()
