"""Start-up on other SAM applications' shapes (tests/fixtures/sam_apps/startup/): each is served, or
refused with one message that names what and why, never an exception of the local cloud's own.

- join_uri.yaml: a Lambda proxy `Uri` written as `Fn::Join` around `Fn::GetAtt` calls that function.
- service_integration.yaml: an HTTP API route with an AWS service integration is named as unenforced.
- no_default.yaml: parameters without a Default are refused as CloudFormation refuses them.
- quoted_scalars.yaml: quoted Booleans and Integers reach the AWS API in its types, as CloudFormation
  converts them.
- int_keys.yaml (+ int_keys_api.yaml): an OpenAPI body with bare-number response codes (`200:`) is
  read with string keys, as CloudFormation reads a template, and served behind its authorizer.
- conditional_trigger.yaml: a pool trigger whose function's Condition is false by default; without
  AWS::LanguageExtensions declared, the SAM transform reads the function as written, and the pool's use
  of the dropped function is refused with CloudFormation's message.
- state_machine_uri.yaml (+ state_machine.asl.json): a state machine's local DefinitionUri is its
  definition, as `sam deploy` uploads it, not a SAM transform error.
- select_output.yaml: an output's Fn::Select out of range is CloudFormation's error, an Unresolvable
  value (the output left out), not an IndexError.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters
from samtranslator.yaml_helper import yaml_parse

from sam_local_cloud.cloudformation.provision import api_fields
from sam_local_cloud.cloudformation.resolve import Resolver, Unresolvable
from sam_local_cloud.cloudformation.spec import active, read_spec
from sam_local_cloud.cloudformation.template import TemplateRefused, load_source, translate
from tests.harness import ROOT

APPS = ROOT / "tests" / "fixtures" / "sam_apps" / "startup"


def test_a_uri_joined_around_get_att_calls_that_function() -> None:
    source = load_source(APPS / "join_uri.yaml")
    (method,) = [r for r in source["Resources"].values() if r["Type"] == "AWS::ApiGateway::Method"]
    function = method["Properties"]["Integration"]["Uri"]["Fn::Join"][1][3]["Fn::GetAtt"][0]
    spec = read_spec(translate(path=APPS / "join_uri.yaml"))
    assert spec.api is not None
    assert [(r.method, r.function) for r in spec.api.routes] == [("GET", function)]
    assert spec.unenforceable == []


def test_an_aws_service_integration_is_named_unenforced_not_a_crash() -> None:
    source = load_source(APPS / "service_integration.yaml")
    paths = source["Resources"]["HttpApi"]["Properties"]["DefinitionBody"]["paths"]
    ((path, operations),) = paths.items()
    ((method, operation),) = operations.items()
    subtype = operation["x-amazon-apigateway-integration"]["integrationSubtype"]
    spec = read_spec(translate(path=APPS / "service_integration.yaml"))
    refused = [line for line in spec.unenforceable if f"{method.upper()} {path}" in line]
    assert len(refused) == 1
    assert f"AWS service integration {subtype}" in refused[0]
    # The template's Lambda route is served as usual.
    (api,) = spec.http_apis
    assert any(route.function == "Handler" for route in api.routes)


def test_parameters_without_a_value_are_refused_by_name() -> None:
    declared = load_source(APPS / "no_default.yaml")["Parameters"]
    missing = [name for name, p in declared.items() if "Default" not in p]
    with pytest.raises(TemplateRefused) as refused:
        translate(path=APPS / "no_default.yaml")
    message = str(refused.value)
    assert f"Parameters: [{', '.join(missing)}] must have values" in message
    assert all(f"{name}=VALUE" in message for name in missing)
    assert "Stage" not in message.split("must have values")[0]
    # Passed, the template translates.
    overrides = dict.fromkeys(missing, "https://example.com/")
    assert translate(overrides, path=APPS / "no_default.yaml").parameters.keys() >= set(missing)


def test_quoted_scalars_take_the_api_types() -> None:
    pool = load_source(APPS / "quoted_scalars.yaml")["Resources"]["UserPool"]["Properties"]
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    request = api_fields(cognito, "CreateUserPool", {"PoolName": "p", **pool})
    email, tier = request["Schema"]
    assert email["Required"] is (pool["Schema"][0]["Required"] == "true")
    assert email["Mutable"] is True
    assert email["DeveloperOnlyAttribute"] is False
    assert tier["Mutable"] is False
    # NumberAttributeConstraints are strings in the API: left as written.
    assert tier["NumberAttributeConstraints"] == pool["Schema"][1]["NumberAttributeConstraints"]
    written_length = pool["Policies"]["PasswordPolicy"]["MinimumLength"]
    assert request["Policies"]["PasswordPolicy"]["MinimumLength"] == int(written_length)
    # botocore's own validation accepts the request as converted (it refused the quoted one).
    shape = cognito.meta.service_model.operation_model("CreateUserPool").input_shape
    validate_parameters(request, shape)
    with pytest.raises(ParamValidationError):
        validate_parameters({"PoolName": "p", **pool}, shape)


def test_bare_number_keys_are_read_as_strings() -> None:
    included = yaml_parse((APPS / "int_keys_api.yaml").read_text())
    ((path, operations),) = included["paths"].items()
    ((method, operation),) = operations.items()
    (code,) = operation["responses"]
    assert not isinstance(code, str)  # YAML reads it as a number: what the template exercises
    template = translate(path=APPS / "int_keys.yaml")
    (api,) = template.of_type("AWS::ApiGateway::RestApi").values()
    responses = api["Properties"]["Body"]["paths"][path][method]["responses"]
    assert list(responses) == [str(code)]
    spec = read_spec(template)
    assert spec.api is not None
    (route,) = spec.api.routes
    assert (route.method, route.resource, route.function) == (method.upper(), path, "Handler")
    assert route.authorizer is not None
    assert spec.unenforceable == []


def test_a_trigger_of_a_false_condition_is_refused_as_cloudformation_refuses_it() -> None:
    path = APPS / "conditional_trigger.yaml"
    source = load_source(path)
    (parameter,) = source["Parameters"]
    ((function, resource),) = [(k, v) for k, v in source["Resources"].items() if "Condition" in v]
    # The SAM transform reads the event's pool (LanguageExtensions, not declared, leaves it as written).
    pool = translate(path=path).resources["UserPool"]["Properties"]
    assert pool["LambdaConfig"]["PreTokenGeneration"] == {"Fn::GetAtt": [function, "Arn"]}
    with pytest.raises(TemplateRefused) as refused:
        active(translate(path=path))
    assert (
        f"Unresolved resource dependencies [{function}] in the Resources block of the template "
        f"({function}'s Condition {resource['Condition']} is false)"
    ) in str(refused.value)
    # Its condition true, the trigger is made and the output reads it.
    served = active(translate({parameter: "true"}, path=path))
    assert function in served.resources
    # A use under Fn::If of the same condition is no dependency: without the event, the output's guard
    # is enough.
    del resource["Properties"]["Events"]
    kept = active(translate(source=source, path=path))
    assert function not in kept.resources
    assert list(kept.outputs) == list(source["Outputs"])


def test_a_state_machines_local_definition_uri_is_its_definition() -> None:
    path = APPS / "state_machine_uri.yaml"
    ((name, machine),) = [
        (k, v)
        for k, v in load_source(path)["Resources"].items()
        if v["Type"] == "AWS::Serverless::StateMachine"
    ]
    written = json.loads((APPS / machine["Properties"]["DefinitionUri"]).read_text())
    made = translate(path=path).of_type("AWS::StepFunctions::StateMachine")[name]["Properties"]
    separator, lines = made["DefinitionString"]["Fn::Join"]
    assert json.loads(separator.join(lines)) == written
    assert made["DefinitionSubstitutions"].keys() == machine["Properties"]["DefinitionSubstitutions"].keys()


def test_a_select_out_of_range_is_cloudformations_error() -> None:
    template = translate(path=APPS / "select_output.yaml")
    (output,) = template.outputs.values()
    index = output["Value"]["Fn::Select"][0]
    # The local Ref of a resource not made is its logical id: no "/" in it to split on.
    resolver = Resolver(parameters=template.parameters, refs={k: k for k in template.resources})
    with pytest.raises(Unresolvable, match=f"Fn::Select cannot select nonexistent value at index {index}"):
        resolver.resolve(output["Value"])
    # In range, the part is selected.
    resolver.refs["JobQueue"] = "arn:aws:batch:us-east-1:123456789012:job-queue/jobs"
    assert resolver.resolve(output["Value"]) == "jobs"
