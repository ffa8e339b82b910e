"""The local stack, registered in moto's CloudFormation backend, so CloudFormation's API describes it.

DescribeStacks, ListStackResources, DescribeStackResource(s), ListExports and GetTemplate are then moto's own
actions, answered in CloudFormation's query protocol by moto's own serializer. moto does not create the
resources here: the local cloud made them already (sam_local_cloud/cloudformation/provision.py), and the
stack's resource map is given those, with their real physical ids, before moto ever looks one up (its map
creates a resource lazily only when it has none for the logical id).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from moto.cloudformation.models import Stack, cloudformation_backends
from moto.cloudformation.parsing import Export


@dataclass(frozen=True)
class StackOutput:
    key: str
    value: str
    description: str | None = None
    export_name: str | None = None


@dataclass
class _Resource:
    """A made resource as moto's stack actions read it (logical and physical id, type)."""

    logical_resource_id: str
    physical_resource_id: str
    cf_resource_type: str

    def is_created(self) -> bool:
        return True


def register_stack(
    *,
    stack_id: str,
    name: str,
    account_id: str,
    region: str,
    parameters: Mapping[str, str],
    no_echo: Iterable[str],
    resources: Iterable[tuple[str, str, str]],  # (logical id, type, physical id)
    outputs: Iterable[StackOutput],
    template_body: str,
    description: str | None,
) -> None:
    """Registers the stack as CREATE_COMPLETE, replacing any stack of that name."""
    backend = cloudformation_backends[account_id][region]
    hidden = set(no_echo)
    made = list(resources)
    outputs = list(outputs)
    # A stand-in template: the parameters with their values, the resources' types, the outputs' values
    # already resolved; moto's stack reads its parameters and outputs from it.
    standing_in: dict[str, Any] = {
        "Parameters": {
            key: {"Type": "String", **({"NoEcho": True} if key in hidden else {})} for key in parameters
        },
        "Resources": {logical_id: {"Type": kind} for logical_id, kind, _ in made},
        "Outputs": {
            o.key: {
                "Value": o.value,
                **({"Description": o.description} if o.description else {}),
                **({"Export": {"Name": o.export_name}} if o.export_name else {}),
            }
            for o in outputs
        },
    }
    if description:
        standing_in["Description"] = description
    for existing in [s for s in backend.stacks.values() if s.name == name]:
        backend.stacks.pop(existing.stack_id)
    stack = Stack(  # type: ignore[abstract]  # moto's own stacks are this class
        stack_id=stack_id,
        name=name,
        template=json.dumps(standing_in),
        parameters=dict(parameters),
        account_id=account_id,
        region_name=region,
    )
    for logical_id, kind, physical_id in made:
        stack.resource_map._parsed_resources[logical_id] = _Resource(logical_id, physical_id, kind)
    stack.template = template_body  # GetTemplate answers the template as written (its Original stage)
    backend.stacks[stack_id] = stack
    for export in stack.exports:
        backend.exports[export.name] = Export(stack_id, export.name, export.value)
    stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    stack.mark_creation_complete()
