"""sam_local_cloud/lambda_/functions.py: one record of a function's configuration and the
environment Lambda gives it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from sam_local_cloud.cloudformation.resolve import Resolver, pseudo_parameters
from sam_local_cloud.cloudformation.template import Template, load_source, translate
from sam_local_cloud.lambda_.functions import FunctionConfig, function_config
from tests.harness import ROOT

REGION = "eu-west-1"
ENDPOINT = "http://127.0.0.1:3999"
LOG_GROUP = "/aws/lambda/shop"
TABLE = "shop-products"
FUNCTION_NAME = "shop-GetProductFunction-Ab12Cd34"


@pytest.fixture(scope="module")
def template() -> Template:
    return translate()


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return load_source()


def resolver_for(template: Template, **refs: str) -> Resolver:
    return Resolver(
        parameters={**template.parameters, **pseudo_parameters(REGION, "111122223333", "shop")},
        conditions=template.conditions,
        refs=dict(refs),
    )


@pytest.fixture(scope="module")
def config(template: Template) -> FunctionConfig:
    resolver = resolver_for(
        template, FunctionLogGroup=LOG_GROUP, ProductsTable=TABLE, GetProductFunction=FUNCTION_NAME
    )
    return function_config(template, "GetProductFunction", resolver)


@pytest.fixture
def environment(config: FunctionConfig) -> dict[str, str]:
    return config.environment(region=REGION, endpoint_url=ENDPOINT)


# ---------------------------------------------------------------- the record


def test_template_variables_are_resolved(config: FunctionConfig, source: dict[str, Any]) -> None:
    declared = source["Resources"]["GetProductFunction"]["Properties"]["Environment"]["Variables"]
    assert config.variables["TABLE_NAME"] == TABLE
    assert config.variables["POWERTOOLS_LOG_LEVEL"] == source["Parameters"]["LogLevel"]["Default"]
    assert config.variables["REQUIRED_SCOPES"] == declared["REQUIRED_SCOPES"]
    assert all(isinstance(value, str) for value in config.variables.values())


def test_record_takes_the_functions_settings_from_globals_and_its_own(
    config: FunctionConfig, source: dict[str, Any]
) -> None:
    defaults = source["Globals"]["Function"]
    own = source["Resources"]["GetProductFunction"]["Properties"]
    assert (config.name, config.handler, config.runtime) == (
        FUNCTION_NAME,
        own["Handler"],
        defaults["Runtime"],
    )
    assert (config.timeout_seconds, config.memory_mb) == (float(defaults["Timeout"]), defaults["MemorySize"])
    assert config.code_dir == (ROOT / defaults["CodeUri"]).resolve()
    assert config.arn == f"arn:aws:lambda:{REGION}:111122223333:function:{FUNCTION_NAME}"


def test_log_group_comes_from_logging_config(config: FunctionConfig) -> None:
    assert config.log_group == LOG_GROUP


def test_log_group_defaults_to_aws_lambda_and_the_function_name() -> None:
    template = translate(path=ROOT / "tests" / "fixtures" / "http_api.yaml")
    config = function_config(template, "EchoFunction", resolver_for(template, EchoFunction="shop-Echo-1"))
    assert config.log_group == "/aws/lambda/shop-Echo-1"


def test_configuration_that_cannot_be_resolved_stops_with_the_functions_name(template: Template) -> None:
    with pytest.raises(SystemExit, match="GetProductFunction"):
        function_config(template, "GetProductFunction", resolver_for(template))  # no table, no log group


# ---------------------------------------------------------------- the environment


def test_lambda_runtime_variables_are_defined(config: FunctionConfig, environment: dict[str, str]) -> None:
    assert environment["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    host, _, port = environment["AWS_LAMBDA_RUNTIME_API"].partition(":")
    assert host
    assert port.isdigit()
    assert Path(environment["LAMBDA_RUNTIME_DIR"]).is_absolute()
    assert Path(environment["LAMBDA_RUNTIME_DIR"]).is_dir()
    assert (environment["AWS_SAM_LOCAL"], environment["TZ"]) == ("true", ":UTC")
    assert (environment["AWS_REGION"], environment["AWS_DEFAULT_REGION"]) == (REGION, REGION)
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == FUNCTION_NAME
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(config.memory_mb)
    assert environment["AWS_LAMBDA_LOG_GROUP_NAME"] == LOG_GROUP
    assert environment["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert environment["LAMBDA_TASK_ROOT"] == str(config.code_dir)
    assert environment["_HANDLER"] == config.handler
    assert environment["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{config.runtime}"


def test_each_environment_gets_its_own_log_stream(config: FunctionConfig) -> None:
    first = config.environment(region=REGION, endpoint_url=ENDPOINT)["AWS_LAMBDA_LOG_STREAM_NAME"]
    second = config.environment(region=REGION, endpoint_url=ENDPOINT)["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert first != second
    assert first.startswith("sam_local_cloud/[$LATEST]")


def test_empty_endpoint_variables_point_at_the_local_endpoint(
    config: FunctionConfig, environment: dict[str, str]
) -> None:
    assert config.variables["AWS_ENDPOINT_URL_DYNAMODB"] == ""
    assert environment["AWS_ENDPOINT_URL_DYNAMODB"] == ENDPOINT
    assert environment["AWS_ENDPOINT_URL"] == ENDPOINT


def test_without_a_local_endpoint_empty_endpoint_variables_stay_empty(config: FunctionConfig) -> None:
    environment = config.environment(region=REGION, endpoint_url=None)
    assert environment["AWS_ENDPOINT_URL_DYNAMODB"] == ""
    assert "AWS_ENDPOINT_URL" not in environment


def test_developers_credentials_never_reach_the_function(
    config: FunctionConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = {
        "AWS_PROFILE": "production-admin",
        "AWS_ACCESS_KEY_ID": "AKIAREALREALREAL0000",
        "AWS_SECRET_ACCESS_KEY": "real/secret/key/of/the/developer0000000",
        "AWS_SESSION_TOKEN": "real-session-token",
        "AWS_CONFIG_FILE": "/home/dev/.aws/config",
        "AWS_SHARED_CREDENTIALS_FILE": "/home/dev/.aws/credentials",
    }
    for name, value in real.items():
        monkeypatch.setenv(name, value)
    environment = config.environment(region=REGION, endpoint_url=ENDPOINT)
    assert "AWS_PROFILE" not in environment
    assert not set(real.values()) & set(environment.values())
    assert environment["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert environment["AWS_CONFIG_FILE"] == os.devnull


def test_only_the_variables_python_needs_are_inherited(
    config: FunctionConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOME_DEVELOPER_SETTING", "leak")
    environment = config.environment(region=REGION, endpoint_url=ENDPOINT)
    assert "SOME_DEVELOPER_SETTING" not in environment
    assert environment.get("PATH") == os.environ.get("PATH")


def test_botocore_leaves_the_crt_alone_as_in_lambdas_runtime(
    config: FunctionConfig, environment: dict[str, str], tmp_path: Path
) -> None:
    """Lambda's boto3 has no AWS CRT; the local cloud's packages, behind the function's, have it."""
    import dataclasses
    import subprocess
    import sys

    assert environment["BOTO_DISABLE_CRT"] == "true"
    has_crt = "import botocore.compat; print(botocore.compat.HAS_CRT)"
    run = subprocess.run(  # noqa: S603 - this interpreter
        [sys.executable, "-c", has_crt], env=environment, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == "False"
    (tmp_path / "awscrt").mkdir()  # a function that brings the CRT itself keeps it, as in Lambda
    bringing = dataclasses.replace(config, python_paths=(tmp_path,))
    assert "BOTO_DISABLE_CRT" not in bringing.environment(region=REGION, endpoint_url=ENDPOINT)
    chosen = dataclasses.replace(config, variables={**config.variables, "BOTO_DISABLE_CRT": "false"})
    assert chosen.environment(region=REGION, endpoint_url=ENDPOINT)["BOTO_DISABLE_CRT"] == "false"
