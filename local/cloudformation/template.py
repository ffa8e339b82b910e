"""template.yaml, transformed as a deploy transforms it.

CloudFormation runs the template's transforms in order: AWS::LanguageExtensions (which settles the
`Fn::If`s that switch SAM properties) and then the SAM translator. This module runs the same two,
from the libraries AWS publishes, so that the contract tests, the sample events and the local cloud
all read routes, scopes, clients and functions from the one template that deploys.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from samcli.lib.cfn_language_extensions import process_template
from samcli.lib.cfn_language_extensions.models import PseudoParameterValues
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"

# Local code locations stand in for S3 while translating, as `sam validate` does; the prefix
# lets us map each function's Code back to its folder.
_LOCAL_CODE_BUCKET = "local-code"


@dataclass(frozen=True)
class Template:
    """The transformed (CloudFormation) template and what it was made from."""

    resources: dict[str, Any]
    outputs: dict[str, Any]
    conditions: dict[str, Any]
    parameters: dict[str, str]
    code_dirs: dict[str, Path] = field(default_factory=dict)
    parameter_types: dict[str, str] = field(default_factory=dict)  # name -> its declared Type

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def the_one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(resource_type)
        if len(found) != 1:
            raise ValueError(f"expected one {resource_type}, found {sorted(found)}")
        return next(iter(found.items()))


def load_source(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The SAM template as written, short-form intrinsics expanded."""
    return yaml_parse(path.read_text())


def parameter_values(source: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    values = {name: str(p["Default"]) for name, p in source.get("Parameters", {}).items() if "Default" in p}
    values.update(overrides or {})
    return values


def translate(
    overrides: dict[str, str] | None = None,
    *,
    source: dict[str, Any] | None = None,
    path: Path = TEMPLATE_PATH,
    region: str = "us-east-1",
    account_id: str = "123456789012",
    stack_name: str = "product-api",
) -> Template:
    """Run LanguageExtensions and the SAM transform over the template, as CloudFormation would.

    `path` is the template file (its folder is where CodeUri points from); `source`, when given, is
    its content already parsed.
    """
    if source is None:
        return _translate_cached(
            path.resolve(), tuple(sorted((overrides or {}).items())), region, account_id, stack_name
        )
    return _translate(copy.deepcopy(source), path, overrides, region, account_id, stack_name)


@cache
def _translate_cached(
    path: Path, overrides: tuple[tuple[str, str], ...], region: str, account_id: str, stack_name: str
) -> Template:
    return _translate(load_source(path), path, dict(overrides), region, account_id, stack_name)


def _translate(
    source: dict[str, Any],
    path: Path,
    overrides: dict[str, str] | None,
    region: str,
    account_id: str,
    stack_name: str,
) -> Template:
    params = parameter_values(source, overrides)
    declared = source.get("Parameters", {})
    _point_code_at_local_bucket(source)

    pseudo = PseudoParameterValues(region=region, account_id=account_id, stack_name=stack_name)
    extended = process_template(source, params, pseudo_parameters=pseudo)
    transforms = extended.get("Transform")
    if isinstance(transforms, list):
        extended["Transform"] = [t for t in transforms if t != "AWS::LanguageExtensions"] or None
    if not extended.get("Transform"):
        extended.pop("Transform", None)

    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    transformed = translator.translate(extended, params)

    resources = transformed["Resources"]
    code_dirs = {
        name: (path.parent / r["Properties"]["Code"]["S3Key"]).resolve()
        for name, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function"
        and isinstance(r["Properties"].get("Code"), dict)
        and r["Properties"]["Code"].get("S3Bucket") == _LOCAL_CODE_BUCKET
    }
    return Template(
        resources=resources,
        outputs=transformed.get("Outputs", {}),
        conditions=transformed.get("Conditions", {}),
        parameters=params,
        code_dirs=code_dirs,
        parameter_types={name: str(d.get("Type", "String")) for name, d in declared.items()},
    )


def _point_code_at_local_bucket(source: dict[str, Any]) -> None:
    def swap(props: dict[str, Any]) -> None:
        uri = props.get("CodeUri")
        if isinstance(uri, str) and not uri.startswith("s3://"):
            props["CodeUri"] = f"s3://{_LOCAL_CODE_BUCKET}/{uri}"

    swap(source.get("Globals", {}).get("Function", {}))
    for resource in source.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            swap(resource.setdefault("Properties", {}))


def openapi_body(template: Template) -> dict[str, Any]:
    """The OpenAPI document the REST API is created from."""
    _, api = template.the_one("AWS::ApiGateway::RestApi")
    return api["Properties"]["Body"]
