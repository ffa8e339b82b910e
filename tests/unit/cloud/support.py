"""Helpers of the local cloud's unit tests: a pool's issuer and werkzeug requests built in memory,
so no test opens a socket."""

from __future__ import annotations

from typing import Any

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from sam_local_cloud.cognito.tokens import aws_issuer

REGION = "us-east-1"
POOL_ID = f"{REGION}_AbCdEf123"
ISSUER = aws_issuer(REGION, POOL_ID)


def make_request(method: str = "GET", path: str = "/", **builder: Any) -> Request:
    """A werkzeug Request as a WSGI server hands it over (keyword arguments: EnvironBuilder's)."""
    return EnvironBuilder(method=method, path=path, **builder).get_request()
