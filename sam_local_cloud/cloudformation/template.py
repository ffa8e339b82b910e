"""template.yaml, transformed as a deploy transforms it.

CloudFormation runs the template's transforms in order: AWS::LanguageExtensions (which settles the
`Fn::If`s that switch SAM properties) and then the SAM translator. This module runs the same two,
from the libraries AWS publishes, so that the contract tests, the sample events and the local cloud
all read routes, scopes, clients and functions from the one template that deploys.

Before them, what `sam build`/`sam deploy` would settle from the developer's disk (docs/local-cloud.md,
"SAM CLI's conventions"): a function without CodeUri has the template's folder, a `DefinitionBody`
pulled in with `AWS::Include` (or a `DefinitionUri`) from a local file is read from it, local code
and layer folders stand in for S3, and `InlineCode` is written to a folder of its own as `index.py`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from samcli.lib.cfn_language_extensions import process_template
from samcli.lib.cfn_language_extensions.models import PseudoParameterValues
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

from sam_local_cloud.cloudformation.resolve import Resolver, Unresolvable
from sam_local_cloud.cloudformation.rest_resources import openapi_from_resources

TEMPLATE_PATH = Path("template.yaml")  # as SAM CLI: the template in the folder the command runs in

# Local code locations stand in for S3 while translating, as `sam validate` does; the prefix
# lets us map each function's Code back to its folder.
_LOCAL_CODE_BUCKET = "local-code"
STATE_DIR = ".local"  # beside the project's template: what the local cloud makes (outputs, code, deps)
INLINE_CODE_DIR = "inline-code"


class TemplateRefused(SystemExit):
    """A template the local cloud cannot read or serve: one message that names what and why."""


@dataclass(frozen=True)
class Template:
    """The transformed (CloudFormation) template and what it was made from."""

    resources: dict[str, Any]
    outputs: dict[str, Any]
    conditions: dict[str, Any]
    parameters: dict[str, str]
    code_dirs: dict[str, Path] = field(default_factory=dict)
    # A layer of this template (AWS::Lambda::LayerVersion logical id) -> its local folder.
    layer_dirs: dict[str, Path] = field(default_factory=dict)
    path: Path = TEMPLATE_PATH  # the template file read
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
    try:
        source = yaml_parse(path.read_text())
    except OSError as error:
        raise TemplateRefused(f"{path}: cannot read it: {error.strerror or error}") from None
    except Exception as error:  # yaml's errors have no common public base here
        raise TemplateRefused(f"{path}: not a YAML or JSON template: {error}") from None
    if not isinstance(source, dict) or not isinstance(source.get("Resources"), dict):
        raise TemplateRefused(f"{path}: not a CloudFormation template (no Resources)")
    return source


def project_folder(path: Path) -> Path:
    """The folder of the project a template belongs to: its own, or for `sam build`'s output
    (`.aws-sam/build/template.yaml`) the folder `sam build` ran in."""
    folder = path.resolve().parent
    if folder.name == "build" and folder.parent.name == ".aws-sam":
        return folder.parent.parent
    return folder


def is_build_output(path: Path) -> bool:
    """Whether the template is `sam build`'s: its functions' folders hold their dependencies already."""
    return project_folder(path) != path.resolve().parent


def state_dir(path: Path) -> Path:
    """Where the local cloud keeps what it makes for this template's project."""
    return project_folder(path) / STATE_DIR


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
    # CloudFormation refuses a stack whose parameters lack a value (no Default, none passed).
    missing = [name for name in source.get("Parameters") or {} if name not in params]
    if missing:
        raise TemplateRefused(
            f"{path}: Parameters: [{', '.join(missing)}] must have values (they have no Default): "
            f"pass them with --parameter-overrides {' '.join(f'{name}=VALUE' for name in missing)}"
        )
    folder = path.resolve().parent
    source = _include_local_files(source, folder)
    _apply_sam_cli_defaults(source, folder)
    source = _keys_as_strings(source)
    declared = source.get("Parameters", {})
    _point_code_at_local_bucket(source)

    source = _joins_as_subs(source)
    pseudo = PseudoParameterValues(region=region, account_id=account_id, stack_name=stack_name)
    try:
        extended = process_template(source, params, pseudo_parameters=pseudo)
    except Exception as error:  # its own exception types, and plain ones on malformed input
        raise TemplateRefused(f"{path}: AWS::LanguageExtensions refused it: {error}") from None
    if _LANGUAGE_EXTENSIONS not in _transforms(source):
        # Run here on every template to settle parameters and pseudo parameters early; but where it is
        # not declared, CloudFormation leaves a resource whose Condition is false as written, and
        # LanguageExtensions would strip its `Ref`s (a Cognito event's `UserPool: !Ref UserPool`),
        # which the SAM transform then refuses as missing.
        known = {**params, "AWS::Region": region, "AWS::AccountId": account_id, "AWS::StackName": stack_name}
        for name, entry in source["Resources"].items():
            settled = extended.get("Resources", {}).get(name)
            conditional = isinstance(entry, dict) and "Condition" in entry and settled is not None
            if conditional and entry != settled and _has_false_condition(extended, entry, known):
                extended["Resources"][name] = entry
    transforms = extended.get("Transform")
    if isinstance(transforms, list):
        extended["Transform"] = [t for t in transforms if t != _LANGUAGE_EXTENSIONS] or None
    if not extended.get("Transform"):
        extended.pop("Transform", None)

    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    try:
        transformed = translator.translate(extended, params)
    except InvalidDocumentException as error:
        # What remains after SAM CLI's defaults are applied is the template's own error.
        raise TemplateRefused(f"{path}: the SAM transform refused it: {error}") from None

    resources = transformed["Resources"]
    return Template(
        resources=resources,
        outputs=transformed.get("Outputs", {}),
        conditions=transformed.get("Conditions", {}),
        parameters=params,
        code_dirs={
            **_local_dirs(resources, "AWS::Lambda::Function", "Code", folder),
            **_inline_code(resources, path),
        },
        layer_dirs=_local_dirs(resources, "AWS::Lambda::LayerVersion", "Content", folder),
        path=path,
        parameter_types={name: str(d.get("Type", "String")) for name, d in declared.items()},
    )


_LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"


def _has_false_condition(template: dict[str, Any], entry: dict[str, Any], params: dict[str, str]) -> bool:
    resolver = Resolver(parameters=params, conditions=template.get("Conditions") or {})
    try:
        return not resolver.condition(entry["Condition"])
    except (Unresolvable, KeyError, TypeError, ValueError):
        return False


def _transforms(source: dict[str, Any]) -> list[Any]:
    declared = source.get("Transform")
    return declared if isinstance(declared, list) else [declared]


def _local_dirs(resources: dict[str, Any], kind: str, key: str, folder: Path) -> dict[str, Path]:
    """Each resource of `kind` whose code (`key`) is a local folder (stood in for by the local bucket)."""
    return {
        name: (folder / r["Properties"][key]["S3Key"]).resolve()
        for name, r in resources.items()
        if r["Type"] == kind
        and isinstance(r["Properties"].get(key), dict)
        and r["Properties"][key].get("S3Bucket") == _LOCAL_CODE_BUCKET
    }


def _inline_code(resources: dict[str, Any], path: Path) -> dict[str, Path]:
    """Functions with InlineCode (Code.ZipFile): Lambda puts the code in a file named `index` (`index.py`
    for Python); here each is written once into a folder named by its content's hash."""
    dirs = {}
    for name, r in resources.items():
        code = r["Properties"].get("Code") if r["Type"] == "AWS::Lambda::Function" else None
        if isinstance(code, dict) and isinstance(code.get("ZipFile"), str):
            text = code["ZipFile"]
            folder = state_dir(path) / INLINE_CODE_DIR / hashlib.sha256(text.encode()).hexdigest()[:16]
            if not (folder / "index.py").exists():
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "index.py").write_text(text)
            dirs[name] = folder
    return dirs


def _apply_sam_cli_defaults(source: dict[str, Any], folder: Path) -> None:
    """What SAM CLI assumes where the template says nothing (`sam build`, `sam local`, `sam deploy`)."""
    global_function = (source.get("Globals") or {}).get("Function") or {}
    for resource in source["Resources"].values():
        if not isinstance(resource, dict):
            continue
        props = resource.setdefault("Properties", {}) if "Type" in resource else {}
        if resource.get("Type") == "AWS::Serverless::Function":
            code_set = any(k in props or k in global_function for k in ("CodeUri", "InlineCode", "ImageUri"))
            image = props.get("PackageType", global_function.get("PackageType")) == "Image"
            if not code_set and not image:
                props["CodeUri"] = "."  # SAM CLI's default: the template's own folder
        elif resource.get("Type") in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi"):
            uri = props.get("DefinitionUri")
            if isinstance(uri, str) and not uri.startswith("s3://") and "DefinitionBody" not in props:
                # `sam deploy` uploads the local file; its content is what the API is created from.
                props["DefinitionBody"] = _read_local_file(folder / uri, "DefinitionUri")
                del props["DefinitionUri"]
        elif resource.get("Type") == "AWS::Serverless::StateMachine":
            uri = props.get("DefinitionUri")
            if isinstance(uri, str) and not uri.startswith("s3://") and "Definition" not in props:
                # `sam deploy` uploads the local file (ASL, JSON or YAML): the machine's definition.
                props["Definition"] = _read_local_file(folder / uri, "DefinitionUri")
                del props["DefinitionUri"]


_INCLUDE = "Fn::Transform"


def _include_local_files(node: Any, folder: Path) -> Any:
    """Every `Fn::Transform: {Name: AWS::Include, Parameters: {Location: ./file}}` replaced by the file's
    content, as `sam deploy` does once it has uploaded the file and CloudFormation inserted it."""
    if isinstance(node, list):
        return [_include_local_files(item, folder) for item in node]
    if not isinstance(node, dict):
        return node
    transform = node.get(_INCLUDE)
    if isinstance(transform, dict) and transform.get("Name") == "AWS::Include":
        location = (transform.get("Parameters") or {}).get("Location")
        if not isinstance(location, str) or location.startswith("s3://"):
            raise TemplateRefused(
                f"AWS::Include of {location!r}: only a local file is read (nothing is fetched from S3)"
            )
        included = _include_local_files(_read_local_file(folder / location, "AWS::Include"), folder)
        rest = {k: _include_local_files(v, folder) for k, v in node.items() if k != _INCLUDE}
        if not rest:
            return included
        if not isinstance(included, dict):
            raise TemplateRefused(f"AWS::Include of {location}: beside other keys, it must be a mapping")
        return {**rest, **included}
    return {k: _include_local_files(v, folder) for k, v in node.items()}


def _read_local_file(path: Path, what: str) -> Any:
    try:
        return yaml_parse(path.read_text())
    except OSError as error:
        raise TemplateRefused(f"{what} {path}: cannot read it: {error.strerror or error}") from None
    except Exception as error:
        raise TemplateRefused(f"{what} {path}: not YAML or JSON: {error}") from None


def _point_code_at_local_bucket(source: dict[str, Any]) -> None:
    def swap(props: dict[str, Any], key: str) -> None:
        uri = props.get(key)
        if isinstance(uri, str) and not uri.startswith("s3://"):
            props[key] = f"s3://{_LOCAL_CODE_BUCKET}/{uri}"

    swap(source.get("Globals", {}).get("Function", {}), "CodeUri")
    for resource in source.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            swap(resource.setdefault("Properties", {}), "CodeUri")
        elif resource.get("Type") == "AWS::Serverless::LayerVersion":
            swap(resource.setdefault("Properties", {}), "ContentUri")


def openapi_body(template: Template, api_id: str | None = None) -> dict[str, Any]:
    """The OpenAPI document a REST API (the template's one, unless named) is created from: its Body,
    or for an API built from AWS::ApiGateway::Resource/Method/Authorizer resources, the document those
    resources make."""
    if api_id is None:
        api_id, api = template.the_one("AWS::ApiGateway::RestApi")
    else:
        api = template.resources[api_id]
    props = api.get("Properties", {})
    if isinstance(props.get("Body"), dict):
        return props["Body"]
    if "BodyS3Location" in props:
        raise TemplateRefused(f"{api_id}: its OpenAPI body is in S3 (BodyS3Location), which is not read")
    return openapi_from_resources(template.resources, api_id)


def _keys_as_strings(value: Any) -> Any:
    """Every mapping key as the string CloudFormation reads it: a template is a JSON document, whose
    keys are strings, so YAML's `200:` (an OpenAPI response code) is the key "200". PyYAML makes it an
    int, on which LanguageExtensions and the SAM transform would fail."""
    if isinstance(value, list):
        return [_keys_as_strings(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {_key_text(key): _keys_as_strings(item) for key, item in value.items()}


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return json.dumps(key)  # true, false, null: as JSON writes them
    return str(key)


def _joins_as_subs(value: Any) -> Any:
    """`Fn::Join` over strings, `Ref`s and `Fn::GetAtt`s, rewritten as the `Fn::Sub` it means.

    SAM CLI's LanguageExtensions joins an `Fn::GetAtt` it cannot resolve as its Python text (the
    integration `Uri: !Join [..., !GetAtt Fn.Arn, ...]` many templates write); `Fn::Sub` it leaves
    for CloudFormation, which is what a deploy does with either."""
    if isinstance(value, list):
        return [_joins_as_subs(item) for item in value]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Fn::Join"]:
        argument = value["Fn::Join"]
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            parts = argument[1]
            if isinstance(parts, list) and all(_sub_part(part) is not None for part in parts):
                return {"Fn::Sub": argument[0].join(str(_sub_part(part)) for part in parts)}
    return {key: _joins_as_subs(item) for key, item in value.items()}


def _sub_part(part: Any) -> str | None:
    if isinstance(part, str):
        return part.replace("${", "${!")
    if isinstance(part, dict) and list(part) == ["Ref"] and isinstance(part["Ref"], str):
        return "${" + part["Ref"] + "}"
    if isinstance(part, dict) and list(part) == ["Fn::GetAtt"]:
        target = part["Fn::GetAtt"]
        target = target.split(".", 1) if isinstance(target, str) else target
        if isinstance(target, list) and len(target) == 2 and all(isinstance(t, str) for t in target):
            return "${" + ".".join(target) + "}"
    return None
