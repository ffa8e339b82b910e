"""How one invocation ended, as a type: what calls a function decides its answer from the type alone.

Lambda tells these apart (docs/aws-behaviour.md §7), and so do its callers: API Gateway answers a
throttled call differently from a failed one; Cognito quotes a failed trigger's `message`. Each
failure also has the line Lambda's log shows for it (`describe`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Result:
    """The handler returned; `payload` is its answer, as JSON would carry it."""

    payload: Any

    def describe(self) -> str:
        return "returned"


@dataclass(frozen=True)
class FunctionError:
    """The handler raised (`Unhandled`), or returned what JSON cannot carry (`Runtime.MarshalError`)."""

    error_type: str
    message: str

    def describe(self) -> str:
        return f"{self.error_type}: {self.message}"


@dataclass(frozen=True)
class TimedOut:
    """The invocation outlived the function's Timeout; its environment was stopped."""

    seconds: float

    @property
    def message(self) -> str:
        return f"Task timed out after {self.seconds:.2f} seconds"

    def describe(self) -> str:
        return self.message


@dataclass(frozen=True)
class Throttled:
    """No environment was free and none could start: the function did not run (Lambda's 429)."""

    message = "Rate Exceeded."

    def describe(self) -> str:
        return f"TooManyRequestsException: {self.message}"


@dataclass(frozen=True)
class ResponseTooLarge:
    """The handler's answer was over Lambda's 6 MB limit for a synchronous call."""

    message: str

    def describe(self) -> str:
        return f"Function.ResponseSizeTooLarge: {self.message}"


@dataclass(frozen=True)
class InitFailed:
    """The handler could not be loaded, or its init ran out of time: the function did not run."""

    error_type: str
    message: str

    def describe(self) -> str:
        return f"{self.error_type}: {self.message}"


@dataclass(frozen=True)
class EnvironmentExited:
    """The environment's process ended during the invocation (a crash, `os._exit`)."""

    message = "the worker process exited"

    def describe(self) -> str:
        return f"Runtime.ExitError: {self.message}"


Failure = FunctionError | TimedOut | Throttled | ResponseTooLarge | InitFailed | EnvironmentExited
Outcome = Result | Failure


def outcome_of_reply(reply: dict[str, Any]) -> Outcome:
    """A worker's reply (sam_local_cloud/lambda_/worker.py) as its outcome."""
    if reply["ok"]:
        return Result(reply.get("result"))
    kind, error_type, message = reply.get("kind"), reply["errorType"], reply.get("errorMessage", "")
    if kind == "init":
        return InitFailed(error_type, message)
    if kind == "too_large":
        return ResponseTooLarge(message)
    return FunctionError(error_type, message)
