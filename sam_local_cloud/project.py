"""A project's own settings for the local cloud: `local-cloud.toml`, beside its template, read once.

The emulator serves what a template declares and nothing else of the project it belongs to. What a
project adds for local use (the banner's name, sample people, parameter defaults, the contract of the
API page, which client and variable its sign-in example uses) lives in that one file, so the emulator
carries nothing of any one template. A template with no such file beside it gets none of it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sam_local_cloud.cloudformation.template import project_folder
from sam_local_cloud.cognito.people import SampleUser, users_from

SETTINGS_FILE = "local-cloud.toml"
SAM_CONFIG_FILE = "samconfig.toml"
# `sam deploy --guided`'s own default, for a project whose samconfig.toml names no stack.
DEFAULT_STACK_NAME = "sam-app"
_KEYS = {"name", "openapi", "parameter_defaults", "people", "users", "fresh_command"}
PORT_FIELD = "{port}"
FRESH_COMMAND = "sam-local-cloud --fresh"


@dataclass(frozen=True)
class Project:
    name: str = "local cloud"
    openapi: Path | None = None  # the contract the API page shows
    parameter_defaults: Mapping[str, str] = field(default_factory=dict)
    users: list[SampleUser] = field(default_factory=list)
    user_client_output: str | None = None  # the output naming the client people sign in with
    group_scopes_variable: str | None = None  # the trigger's variable: groups -> scopes (JSON)
    fresh_command: str = FRESH_COMMAND  # what the console tells people to run to start clean

    def defaults_for(
        self, declared: Mapping[str, Any], overrides: Mapping[str, str], port: int | None = None
    ) -> dict[str, str]:
        """The parameter defaults the template declares and that were not set explicitly; `{port}` in
        a value is the local cloud's port (a URL of the cloud itself, known once the port is taken)."""
        return {
            k: v if port is None else v.replace(PORT_FIELD, str(port))
            for k, v in self.parameter_defaults.items()
            if k in declared and k not in overrides
        }


def project_of(template: Path) -> Project:
    """The settings beside `template` (for `sam build`'s output, beside the project's template), or none
    (a bare project) when it has no settings file."""
    path = project_folder(template) / SETTINGS_FILE
    if not path.exists():
        return Project()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SystemExit(f"{path}: cannot read it: {error}") from None
    unknown = set(data) - _KEYS
    if unknown:
        raise SystemExit(f"{path}: unknown settings {sorted(unknown)} (known: {sorted(_KEYS)})")
    people = data.get("people", {})
    defaults = data.get("parameter_defaults", {})
    if not isinstance(defaults, dict) or not all(isinstance(v, str) for v in defaults.values()):
        raise SystemExit(f"{path}: parameter_defaults must map parameter names to strings")
    return Project(
        name=str(data.get("name", Project.name)),
        openapi=path.parent / data["openapi"] if "openapi" in data else None,
        parameter_defaults=defaults,
        users=users_from(data.get("users", []), f"{path} users"),
        user_client_output=people.get("client_output"),
        group_scopes_variable=people.get("group_scopes_variable"),
        fresh_command=str(data.get("fresh_command", FRESH_COMMAND)),
    )


def stack_name_of(template: Path, environment: str = "default") -> str:
    """The stack name `sam deploy` would use: samconfig.toml's beside the template (its `deploy`
    command's, else its `global` one's, for the environment), else SAM's default."""
    path = template.resolve().parent / SAM_CONFIG_FILE
    if not path.exists():
        return DEFAULT_STACK_NAME
    try:
        config = tomllib.loads(path.read_text()).get(environment, {})
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SystemExit(f"{path}: cannot read it: {error}") from None
    for command in ("deploy", "global"):
        name = config.get(command, {}).get("parameters", {}).get("stack_name")
        if name:
            return str(name)
    return DEFAULT_STACK_NAME
