"""One record per Lambda function of the template, used by everything that runs a function.

The local cloud, `make invoke`, the handler tests and both benchmarks build a function's
configuration here, from the transformed template and a resolver that knows the local physical ids,
so a function's environment is made in one place: the template's own variables, resolved, and what
the Lambda runtime adds (docs/aws-behaviour.md §7).
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sam_local_cloud.cloudformation.resolve import Resolver, Unresolvable
from sam_local_cloud.cloudformation.template import Template, is_build_output, state_dir
from sam_local_cloud.lambda_.dependencies import REQUIREMENTS, dependencies_dir

# Inherited from the developer's environment: enough to run Python, nothing about AWS credentials.
_PASSED_THROUGH = ("PATH", "LANG", "PYTHONDONTWRITEBYTECODE", "SYSTEMROOT")
_DEFAULT_TIMEOUT_SECONDS = 3  # Lambda's defaults
_DEFAULT_MEMORY_MB = 128
LOCAL_RUNTIME_API = "127.0.0.1:9001"  # what Lambda's own runtime API address looks like
RUNTIME_DIR = Path(__file__).resolve().parent  # the local "runtime": sam_local_cloud/lambda_/worker.py


@dataclass(frozen=True)
class FunctionConfig:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    runtime: str
    timeout_seconds: float
    memory_mb: int
    log_group: str
    reserved_concurrency: int | None
    variables: dict[str, str]  # the template's own environment variables, resolved
    # After the code folder on sys.path: its installed requirements, then its layers' /opt/python.
    python_paths: tuple[Path, ...] = ()

    def environment(self, *, region: str, endpoint_url: str | None) -> dict[str, str]:
        """The whole environment of one execution environment: the template's variables, then Lambda's."""
        variables = {**self._sdk_as_in_lambda(), **self.variables}
        if endpoint_url:
            for key in [k for k, v in variables.items() if k.startswith("AWS_ENDPOINT_URL") and not v]:
                # An empty endpoint variable means "the default AWS endpoint": here, the local one.
                variables[key] = endpoint_url
        return {**variables, **self.runtime_environment(region=region, endpoint_url=endpoint_url)}

    def _sdk_as_in_lambda(self) -> dict[str, str]:
        """The AWS SDK as Lambda's Python runtime has it: its boto3 comes without the AWS CRT, so
        botocore signs with its own SigV4 code. An execution environment runs with the local cloud's
        packages after the function's own, and those hold the CRT (the SAM CLI needs it): botocore is
        told to leave it alone, unless the function's code, dependencies or layers bring it
        themselves. A variable of the template's own wins."""
        brought = any((path / "awscrt").is_dir() for path in (self.code_dir, *self.python_paths))
        return {} if brought else {"BOTO_DISABLE_CRT": "true"}

    def runtime_environment(self, *, region: str, endpoint_url: str | None) -> dict[str, str]:
        """What the Lambda runtime defines, as `sam local` sets it (AWS_SAM_LOCAL included)."""
        passed = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        local_aws = {"AWS_ENDPOINT_URL": endpoint_url} if endpoint_url else {}
        return {
            **passed,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            # Dummy credentials: the local AWS endpoint accepts any, and real ones must never leak in.
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            **local_aws,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": self.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": f"sam_local_cloud/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_RUNTIME_API": LOCAL_RUNTIME_API,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.runtime}",
            "AWS_SAM_LOCAL": "true",  # as `sam local` sets it: Powertools Tracer stays off without X-Ray
            "LAMBDA_TASK_ROOT": str(self.code_dir),
            "LAMBDA_RUNTIME_DIR": str(RUNTIME_DIR),
            "_HANDLER": self.handler,
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
        }


def function_config(template: Template, logical_id: str, resolver: Resolver) -> FunctionConfig:
    """The configuration of one AWS::Lambda::Function, its intrinsics resolved by `resolver`."""
    props: dict[str, Any] = template.resources[logical_id]["Properties"]
    try:
        variables = resolver.resolve(props.get("Environment", {}).get("Variables", {}))
        logging_config = resolver.resolve(props.get("LoggingConfig", {}))
    except Unresolvable as error:
        raise SystemExit(f"{logical_id}: cannot resolve its configuration locally: {error}") from None
    name = str(resolver.refs.get(logical_id, props.get("FunctionName") or logical_id))
    region = resolver.parameters.get("AWS::Region", "us-east-1")
    account = resolver.parameters.get("AWS::AccountId", "123456789012")
    reserved = resolver.resolve(props.get("ReservedConcurrentExecutions"))  # often an Fn::If
    return FunctionConfig(
        logical_id=logical_id,
        name=name,
        arn=resolver.attributes.get(
            (logical_id, "Arn"), f"arn:aws:lambda:{region}:{account}:function:{name}"
        ),
        handler=props["Handler"],
        code_dir=template.code_dirs[logical_id],
        runtime=props.get("Runtime", "python3.13"),
        timeout_seconds=float(props.get("Timeout", _DEFAULT_TIMEOUT_SECONDS)),
        memory_mb=int(props.get("MemorySize", _DEFAULT_MEMORY_MB)),
        # Lambda logs to /aws/lambda/<name> unless LoggingConfig names another group.
        log_group=str(logging_config.get("LogGroup") or f"/aws/lambda/{name}"),
        reserved_concurrency=int(reserved) if isinstance(reserved, int | str) else None,
        variables={k: str(v) for k, v in variables.items()},
        python_paths=(*_dependencies(template, logical_id), *_layer_paths(template, props)),
    )


def unrunnable(props: dict[str, Any]) -> str | None:
    """Why the local cloud cannot run this function (it runs Python 3 code on the local interpreter),
    or None. Said at start-up, by name, rather than a 502 on every call."""
    if props.get("PackageType") == "Image" or "ImageUri" in props.get("Code", {}):
        return "a container image function is not run by the local cloud"
    runtime = str(props.get("Runtime", ""))
    if not runtime.startswith("python3"):
        return f"runtime {runtime or '(none)'} is not run by the local cloud (it runs Python 3 functions)"
    return None


def _dependencies(template: Template, logical_id: str) -> list[Path]:
    """The function's own requirements.txt, installed as `sam build` would (not for `sam build`'s
    output, whose function folders hold them already)."""
    requirements = template.code_dirs[logical_id] / REQUIREMENTS
    if is_build_output(template.path) or not requirements.is_file():
        return []
    return [dependencies_dir(requirements, state_dir(template.path))]


def _layer_paths(template: Template, props: dict[str, Any]) -> list[Path]:
    """The template's own layers, as Lambda extracts them into /opt: their `python` folder and its
    site-packages on the path, the last layer first (it overwrites the others' files). A layer folder
    without `python/` is one `sam build` would put there (BuildMethod python3.x): the folder itself."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    paths: list[Path] = []
    for layer in reversed(props.get("Layers") or []):
        folder = template.layer_dirs.get(layer.get("Ref", "")) if isinstance(layer, dict) else None
        if folder is None:
            continue  # a layer of another account (an ARN): named at start-up, not downloaded
        python = folder / "python"
        if python.is_dir():
            paths += [python / "lib" / version / "site-packages", python]
        else:
            paths.append(folder)
    return paths


def function_configs(template: Template, resolver: Resolver) -> dict[str, FunctionConfig]:
    return {
        name: function_config(template, name, resolver) for name in template.of_type("AWS::Lambda::Function")
    }
