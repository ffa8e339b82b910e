"""What Cognito refuses, as the sign-in API names it (its exception names, docs/aws-behaviour.md §5)."""

from __future__ import annotations


class SignInError(Exception):
    """A sign-in Cognito refuses: `kind` is its exception name in the sign-in API."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message
