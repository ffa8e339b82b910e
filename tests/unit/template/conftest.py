"""The transformed template, as each test file of the package checks it."""

from __future__ import annotations

import pytest

from sam_local_cloud.cloudformation.template import Template, translate


@pytest.fixture(params=["false", "true"], ids=["no-api-key", "api-key"])
def transformed(request) -> Template:
    """The template as deployed, with RequireApiKey false and true."""
    return translate({"RequireApiKey": request.param})
