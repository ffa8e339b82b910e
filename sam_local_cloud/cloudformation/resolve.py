"""CloudFormation intrinsics, evaluated locally.

The transformed template still holds `Ref`, `Fn::GetAtt`, `Fn::Sub`... wherever a value depends on
something only a deployment knows (a table's name, the pool's ARN). The local cloud knows those
values once it has created the resources in moto, so it resolves them here the way CloudFormation
would: `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::If`, `Fn::Join`, `Fn::Select`, `Fn::Split`, the
condition functions, and `Fn::ImportValue` from the exports of the stacks served before this one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Unresolvable(ValueError):
    """The value needs something the local cloud does not have (e.g. Fn::ImportValue)."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass
class Resolver:
    """Resolves intrinsics against locally known physical ids and attributes."""

    parameters: Mapping[str, str]
    conditions: Mapping[str, Any] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    # Attributes asked of a resource on demand (logical id -> attribute name -> value, KeyError when it
    # has no such attribute): those of resources made with moto's models.
    attribute_sources: dict[str, Callable[[str], Any]] = field(default_factory=dict)
    # The exports of the stacks served before this one (name -> value), for Fn::ImportValue.
    imports: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (name, arg), *_ = value.items()
            function = _FUNCTIONS.get(name)
            if function is not None:
                return function(self, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise Unresolvable(f"unknown condition {name}")
        return bool(self.resolve(self.conditions[name]))

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise Unresolvable(f"Ref {name}: no local value")

    def get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.attributes[(logical_id, attribute)]
        except KeyError:
            pass
        source = self.attribute_sources.get(logical_id)
        if source is not None:
            try:
                value = source(attribute)
            except KeyError:
                pass
            else:
                self.attributes[(logical_id, attribute)] = value
                return value
        raise Unresolvable(f"Fn::GetAtt {logical_id}.{attribute}: no local value")

    def sub(self, template: str, variables: Mapping[str, Any] | None = None) -> str:
        variables = variables or {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                return str(self.resolve(variables[name]))
            if name in self.parameters or name in self.refs or "." not in name:
                return str(self.ref(name))  # includes SAM's `${Api.Stage}`-style shorthands
            logical_id, attribute = name.split(".", 1)
            return self.get_att(logical_id, attribute)

        # `${!Literal}` is how Fn::Sub escapes a literal `${Literal}`.
        return _SUB_VARIABLE.sub(replace, template).replace("${!", "${")


def _sub(r: Resolver, arg: Any) -> str:
    if isinstance(arg, str):
        return r.sub(arg)
    template, variables = arg
    return r.sub(template, variables)


def _get_att(r: Resolver, arg: Any) -> str:
    logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
    return r.get_att(logical_id, r.resolve(attribute))


def _if(r: Resolver, arg: Any) -> Any:
    name, if_true, if_false = arg
    return r.resolve(if_true if r.condition(name) else if_false)


def _join(r: Resolver, arg: Any) -> str:
    delimiter, items = arg
    return delimiter.join(str(v) for v in r.resolve(items))


def _select(r: Resolver, arg: Any) -> Any:
    index, items = arg
    values, position = r.resolve(items), int(r.resolve(index))
    if not 0 <= position < len(values):
        # CloudFormation's own error; locally, the list is often a value it would know and we do not.
        raise Unresolvable(f"Fn::Select cannot select nonexistent value at index {position} of {values!r}")
    return values[position]


def _split(r: Resolver, arg: Any) -> list[str]:
    delimiter, text = arg
    return str(r.resolve(text)).split(delimiter)


def _import_value(r: Resolver, arg: Any) -> str:
    """An export of a stack served before this one, as CloudFormation resolves it at deploy time."""
    name = r.resolve(arg)
    if not isinstance(name, str) or name not in r.imports:
        raise Unresolvable(f"Fn::ImportValue {name!r}: no served stack exports it")
    return r.imports[name]


def _unsupported(name: str):
    def fail(_: Resolver, arg: Any) -> Any:
        raise Unresolvable(f"{name} {arg!r} is not available locally")

    return fail


_FUNCTIONS = {
    "Ref": lambda r, arg: r.ref(arg),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::If": _if,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::Equals": lambda r, arg: r.resolve(arg[0]) == r.resolve(arg[1]),
    "Fn::Not": lambda r, arg: not r.resolve(arg[0]),
    "Fn::And": lambda r, arg: all(r.resolve(v) for v in arg),
    "Fn::Or": lambda r, arg: any(r.resolve(v) for v in arg),
    "Condition": lambda r, arg: r.condition(arg),
    "Fn::ImportValue": _import_value,
    "Fn::GetAZs": lambda r, arg: [f"{r.parameters.get('AWS::Region', 'us-east-1')}{z}" for z in "abc"],
    "Fn::Base64": _unsupported("Fn::Base64"),
}


def pseudo_parameters(region: str, account_id: str, stack_name: str) -> dict[str, str]:
    return {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::StackName": stack_name,
        "AWS::StackId": stack_id(region, account_id, stack_name),
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }


def stack_id(region: str, account_id: str, stack_name: str) -> str:
    """The stack's ARN, shaped as CloudFormation's (a UUID at the end), the same at every start."""
    unique = uuid.uuid5(uuid.NAMESPACE_URL, f"cloudformation:{region}:{account_id}:{stack_name}")
    return f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/{unique}"
