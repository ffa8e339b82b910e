"""What becomes of each resource of the template locally, the order they are made in, and their names.

Every resource is either **created** in the local AWS APIs (moto, or the local cloud's own creators),
**served** by the local cloud itself (functions by the runner, APIs by the gateways), or **not
reproduced**, with the reason: start-up names each of those (nothing silent,
docs/aws-behaviour.md §13).
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CREATED = "created"
SERVED = "served"
NOT_REPRODUCED = "not reproduced"


@dataclass(frozen=True)
class StackResource:
    """One resource of the local stack, as ListStackResources shows it, and what became of it."""

    logical_id: str
    resource_type: str
    status: str  # CREATED, SERVED or NOT_REPRODUCED
    physical_id: str
    reason: str = ""  # why it is not reproduced, or what of it is not (a created bucket's notifications)


# Served by the local cloud's own parts, not by an AWS API: their Ref names what CloudFormation's would.
SERVED_TYPES = {
    "AWS::Lambda::Function": "run by the local runner",
    "AWS::ApiGateway::RestApi": "served by the local REST API gateway",
    "AWS::ApiGateway::Stage": "served by the local REST API gateway",
    "AWS::ApiGateway::Deployment": "served by the local REST API gateway",
    "AWS::ApiGateway::GatewayResponse": "served by the local REST API gateway",
    "AWS::ApiGatewayV2::Api": "served by the local HTTP API gateway",
    "AWS::ApiGatewayV2::Stage": "served by the local HTTP API gateway",
    "AWS::Cognito::UserPoolDomain": "served on the local port",
    "AWS::Lambda::EventSourceMapping": "polled by the local event sources (sam_local_cloud/triggers/)",
    "AWS::Scheduler::Schedule": "fired by the local event sources (sam_local_cloud/triggers/)",
}

# Why a type is not reproduced, where there is more to say than "no local emulation".
NOT_REPRODUCED_REASONS = {
    "AWS::Lambda::Permission": "invoke permissions are not checked: every local caller may invoke",
    "AWS::Lambda::Version": "versions are not made: the function's current code runs",
    "AWS::Lambda::Alias": "aliases are not made: the function's current code runs",
    "AWS::Lambda::LayerVersion": "layers are not made: the local environment's packages are used",
    "AWS::Lambda::Url": "function URLs are not served",
    "AWS::ApiGateway::Account": "account settings (the CloudWatch role) are not emulated",
    "AWS::CloudFormation::Stack": "nested stacks are not created",
    "AWS::CloudFormation::WaitConditionHandle": "wait conditions are not emulated",
    "AWS::CloudFormation::WaitCondition": "wait conditions are not emulated",
}
NO_EMULATION = "no local emulation of this type"

_SUFFIX_LENGTH = 13
# Names CloudFormation generates are cut to the type's limit (the stack and logical id part first).
_NAME_LIMITS = {
    "AWS::S3::Bucket": 63,
    "AWS::IAM::Role": 64,
    "AWS::IAM::User": 64,
    "AWS::IAM::InstanceProfile": 128,
    "AWS::IAM::ManagedPolicy": 128,
    "AWS::SQS::Queue": 80,
    "AWS::SNS::Topic": 256,
    "AWS::Events::Rule": 64,
    "AWS::Events::EventBus": 256,
    "AWS::Kinesis::Stream": 128,
    "AWS::StepFunctions::StateMachine": 80,
    "AWS::SecretsManager::Secret": 256,
    "AWS::Lambda::Function": 64,
}


def physical_name(resource_type: str, stack_name: str, logical_id: str, *, fifo: bool = False) -> str:
    """The name CloudFormation gives a resource whose template names none: `{stack}-{LogicalId}-{SUFFIX}`
    (a bucket's in lower case, an SSM parameter's `CFN-{LogicalId}-{SUFFIX}`, a secret's
    `{LogicalId}-{SUFFIX}`, a FIFO queue's or topic's ending in `.fifo`). CloudFormation's suffix is
    random; here it is drawn from the stack and logical id, so a name is the same at every start."""
    suffix = _suffix(stack_name, logical_id)
    tail = ".fifo" if fifo else ""
    if resource_type == "AWS::SSM::Parameter":
        return f"CFN-{logical_id}-{suffix}"
    stem = logical_id if resource_type == "AWS::SecretsManager::Secret" else f"{stack_name}-{logical_id}"
    limit = _NAME_LIMITS.get(resource_type, 255)
    stem = stem[: limit - len(suffix) - 1 - len(tail)].rstrip("-")
    name = f"{stem}-{suffix}{tail}"
    return name.lower() if resource_type == "AWS::S3::Bucket" else name


def _suffix(stack_name: str, logical_id: str) -> str:
    digest = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).digest()
    return base64.b32encode(digest).decode()[:_SUFFIX_LENGTH]


# ---------------------------------------------------------------- dependency order

_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


def references(value: Any, condition: Callable[[Any], bool] | None = None) -> set[str]:
    """The names a template value refers to with Ref, Fn::GetAtt and Fn::Sub (parameters included).
    Given `condition` (a condition's name -> its value), only the branch each Fn::If takes counts, as
    CloudFormation reads it."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item, condition)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Fn::If" and condition is not None and isinstance(arg, list) and len(arg) == 3:
                found |= references(arg[1] if condition(arg[0]) else arg[2], condition)
            elif key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else str(arg[0]))
            elif key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                found |= {m.split(".", 1)[0].strip() for m in _SUB_NAME.findall(str(text))} - set(variables)
                found |= references(variables, condition)
            else:
                found |= references(arg, condition)
    return found


def dependency_order(resources: Mapping[str, Any], rank: Callable[[str], int]) -> list[str]:
    """The resources' logical ids, each after those it refers to or DependsOn; among those ready at
    once, the lowest `rank` (then template order) first. A cycle (CloudFormation refuses one) is
    broken in that same order rather than refused here."""
    order = list(resources)
    position = {name: index for index, name in enumerate(order)}
    needs: dict[str, set[str]] = {}
    for name, resource in resources.items():
        depends = resource.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else list(depends)
        needed = references(resource.get("Properties", {})) | set(depends)
        needs[name] = {n for n in needed if n in resources and n != name}
    waiting = {name: set(needed) for name, needed in needs.items()}
    ready = [(rank(n), position[n], n) for n, needed in waiting.items() if not needed]
    heapq.heapify(ready)
    done: list[str] = []
    while len(done) < len(order):
        if not ready:  # a cycle: take the first of what is left
            name = min((n for n in order if n in waiting), key=lambda n: (rank(n), position[n]))
        else:
            name = heapq.heappop(ready)[2]
            if name not in waiting:
                continue
        del waiting[name]
        done.append(name)
        for other, needed in waiting.items():
            if name in needed:
                needed.discard(name)
                if not needed:
                    heapq.heappush(ready, (rank(other), position[other], other))
    return done


# ---------------------------------------------------------------- the start-up report


def report(resources: Iterable[StackResource]) -> list[str]:
    """The banner's lines on the template's resources: counts per type of those created and served,
    and every resource not reproduced (or reproduced in part) named, one line per type and reason."""
    resources = list(resources)
    counts = {}
    for status in (CREATED, SERVED):
        counts[status] = Counter(
            r.resource_type.removeprefix("AWS::") for r in resources if r.status == status
        )
    missing: dict[tuple[str, str], list[str]] = {}
    for r in resources:
        if r.status == NOT_REPRODUCED or r.reason:
            missing.setdefault((r.resource_type, r.reason), []).append(r.logical_id)
    total = {status: sum(c.values()) for status, c in counts.items()}
    lines = [
        f"Resources: {total[CREATED]} created, {total[SERVED]} served, "
        f"{sum(1 for r in resources if r.status == NOT_REPRODUCED)} not reproduced"
    ]
    for status in (CREATED, SERVED):
        if counts[status]:
            kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(counts[status].items()))
            lines.append(f"  {status:<8} {kinds}")
    for (kind, reason), names in missing.items():
        lines.append(f"  - {', '.join(names)} ({kind}): {reason}")
    return lines
