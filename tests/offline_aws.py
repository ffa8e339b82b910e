"""moto in the test's own process, for any test or fixture scope (the `aws` fixture is this, per test)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from moto import mock_aws


@contextmanager
def offline_aws(region: str = "us-east-1") -> Iterator[None]:
    """moto in place of AWS, with dummy credentials and nothing that points boto3 elsewhere (an
    `AWS_ENDPOINT_URL*` variable, a profile); the environment comes back after."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")] + ["AWS_PROFILE"]:
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", region)
        patch.setenv("AWS_REGION", region)
        with mock_aws():
            yield
