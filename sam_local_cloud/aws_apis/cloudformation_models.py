"""Template resources made with moto's own CloudFormation models, in the cloud's process.

moto creates each resource type it models from its CloudFormation properties
(`create_from_cloudformation_json`) and answers its `Ref` (`physical_resource_id`) and `Fn::GetAtt`
(`get_cfn_attribute`) as CloudFormation does; the local cloud uses those models rather than one
hand-written creator per type. moto's own template engine is not used: its intrinsics would create
the functions in moto's Lambda backend, the pool and tables twice. Properties arrive resolved
(sam_local_cloud/cloudformation/resolve.py), and the physical name is chosen by the caller, as CloudFormation
chooses it.

Written against moto 5.2.5 (sam_local_cloud/aws_apis/__init__.py); where a model's answer differs from
CloudFormation's documented one, the difference is mended here, named per type.
"""

from __future__ import annotations

import copy
import importlib
from functools import cache
from typing import Any

from moto.core.common_models import CloudFormationModel


class ModelFailed(RuntimeError):
    """moto could not create the resource from these properties."""


# Types moto models that the local cloud makes otherwise, or not with moto: functions run in the
# local runner, APIs in the local gateways, tables and the pool with their own creators
# (sam_local_cloud/cloudformation/provision.py); a nested stack would need its template from S3.
_NOT_WITH_MOTO_PREFIXES = ("AWS::Lambda::", "AWS::ApiGateway::", "AWS::CloudFormation::")
_NOT_WITH_MOTO = {"AWS::DynamoDB::Table"}


# moto's package for a type's service, where it is not the service's name in lower case.
_PACKAGES = {"ElasticLoadBalancingV2": "elbv2", "ElasticLoadBalancing": "elb"}


def models(resource_type: str) -> bool:
    """Whether moto has a CloudFormation model the local cloud creates this type with."""
    if resource_type in _NOT_WITH_MOTO or resource_type.startswith(_NOT_WITH_MOTO_PREFIXES):
        return False
    return _model(resource_type) is not None


def name_property(resource_type: str) -> str | None:
    """The property that names a resource of this type (`QueueName`, `BucketName`...), if it has one."""
    model = _model(resource_type)
    return (model.cloudformation_name_type() or None) if model is not None else None


@cache
def _model(resource_type: str) -> type[CloudFormationModel] | None:
    """moto's model of the type. Only its service's models are imported: moto's own map of every
    model (moto.cloudformation.parsing) imports some twenty services, 1.7 s of start-up."""
    parts = resource_type.split("::")
    if len(parts) != 3 or parts[0] != "AWS":
        return None
    try:
        importlib.import_module(f"moto.{_PACKAGES.get(parts[1], parts[1].lower())}.models")
    except ImportError:
        return None
    return next(
        (m for m in CloudFormationModel.__subclasses__() if m.cloudformation_type() == resource_type), None
    )


def create(
    resource_type: str,
    logical_id: str,
    properties: dict[str, Any],
    physical_name: str,
    *,
    account_id: str,
    region: str,
    stack_id: str,
) -> Any:
    """The resource, made by moto's model from resolved properties, named `physical_name` unless the
    properties name it."""
    model = _model(resource_type)
    assert model is not None, resource_type
    properties = copy.deepcopy(properties)
    name_key = name_property(resource_type)
    if name_key and name_key in _NAME_IN_PROPERTIES.get(resource_type, ()):
        properties.setdefault(name_key, physical_name)  # these models read the name from the properties
    mend = _MENDED_PROPERTIES.get(resource_type)
    if mend is not None:
        properties = mend(properties)
    try:
        resource = model.create_from_cloudformation_json(
            physical_name,
            {"Type": resource_type, "Properties": properties},
            account_id,
            region,
            LogicalId=logical_id,
            StackId=stack_id,
            ResourceType=resource_type,
        )
    except Exception as error:
        raise ModelFailed(f"{type(error).__name__}: {error}") from error
    resource.cf_resource_type = resource_type
    resource.logical_resource_id = logical_id
    return resource


def _kms_key_tags(properties: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's `Tags` ({Key, Value}) in the shape moto's KMS model stores (its API's TagKey,
    TagValue): it refused a key with tags (KeyError: 'TagKey')."""
    tags = properties.get("Tags") or []
    return {**properties, "Tags": [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in tags]}


# Properties moto's models read in another shape than CloudFormation's.
_MENDED_PROPERTIES = {"AWS::KMS::Key": _kms_key_tags}

# Models that take the resource's name from its properties rather than from the name they are given.
_NAME_IN_PROPERTIES = {
    "AWS::SSM::Parameter": ("Name",),
}


def physical_id(resource_type: str, resource: Any) -> str:
    """What `Ref` gives for the resource, as CloudFormation documents it for its type."""
    if resource_type == "AWS::Events::EventBus":
        return str(resource.name)  # moto's model has no physical id; CloudFormation's Ref is the name
    return str(resource.physical_resource_id)


def attribute(resource_type: str, resource: Any, name: str) -> Any:
    """What `Fn::GetAtt` gives for the resource's attribute; KeyError for one it does not have."""
    mended = _MENDED_ATTRIBUTES.get((resource_type, name))
    if mended is not None:
        return mended(resource)
    try:
        return resource.get_cfn_attribute(name)
    except Exception:
        raise KeyError(name) from None


# CloudFormation attributes moto's models lack or give in another shape.
_MENDED_ATTRIBUTES: dict[tuple[str, str], Any] = {
    ("AWS::SQS::Queue", "QueueUrl"): lambda queue: queue.physical_resource_id,
    ("AWS::SNS::Topic", "TopicArn"): lambda topic: topic.physical_resource_id,
    ("AWS::KMS::Key", "KeyId"): lambda key: key.id,
    # A log group's ARN ends in `:*` in CloudFormation (the ARN its IAM statements name).
    ("AWS::Logs::LogGroup", "Arn"): lambda group: f"{group.arn.removesuffix(':*')}:*",
    ("AWS::Events::EventBus", "Name"): lambda bus: bus.name,
    ("AWS::IAM::ManagedPolicy", "PolicyArn"): lambda policy: policy.arn,
    ("AWS::SSM::Parameter", "Type"): lambda parameter: parameter.parameter_type,
    ("AWS::SSM::Parameter", "Value"): lambda parameter: parameter.value,
}
