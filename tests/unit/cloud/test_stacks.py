"""Several stacks: `--template FILE[:STACK]` as the command line reads it, and an OpenAPI body pulled
in with AWS::Include whose Lambda authorizer names its function in an `Fn::Sub` (the form public
applications write, which LanguageExtensions hands on as the bare string)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sam_local_cloud.__main__ import parse_args
from sam_local_cloud.cloudformation.spec import active, read_spec
from sam_local_cloud.cloudformation.template import translate


def test_templates_are_read_in_order_each_with_its_stack_name(tmp_path: Path) -> None:
    args = parse_args(["--template", "shared/cognito.yaml:shared-auth", "--template", "template.yaml"])
    assert args.template == [(Path("shared/cognito.yaml"), "shared-auth"), (Path("template.yaml"), None)]


def test_a_colon_that_names_no_stack_stays_in_the_path(tmp_path: Path) -> None:
    odd = tmp_path / "a:b.yaml"
    odd.write_text("Resources: {}\n")
    assert parse_args(["--template", str(odd)]).template == [(odd, None)]
    assert parse_args(["--template", "C:/apps/template.yaml"]).template == [
        (Path("C:/apps/template.yaml"), None)
    ]


def test_a_stack_name_cloudformation_would_refuse_is_named_not_taken_for_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources: {}\n")
    with pytest.raises(SystemExit):
        parse_args(["--template", f"{template}:my_app"])
    error = capsys.readouterr().err
    assert "stack name 'my_app': CloudFormation takes a letter, then letters, digits and hyphens" in error
    assert "no such file" not in error


INCLUDED = """
swagger: "2.0"
info: {title: included, version: "1"}
paths:
  /items:
    get:
      security: [{Gate: []}]
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri:
          Fn::Sub: arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Items.Arn}/invocations
securityDefinitions:
  Gate:
    type: apiKey
    name: Authorization
    in: header
    x-amazon-apigateway-authtype: custom
    x-amazon-apigateway-authorizer:
      type: token
      authorizerUri:
        Fn::Sub: "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/\\
          ${Gatekeeper.Arn}/invocations"
"""

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      DefinitionBody:
        Fn::Transform: {Name: AWS::Include, Parameters: {Location: ./api.yaml}}
  Items: {Type: AWS::Serverless::Function, Properties: {Runtime: python3.12, Handler: app.handler}}
  Gatekeeper: {Type: AWS::Serverless::Function, Properties: {Runtime: python3.12, Handler: gate.handler}}
"""


def test_an_included_bodys_lambda_authorizer_is_run_not_refused(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text(INCLUDED)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    spec = read_spec(active(translate(path=tmp_path / "template.yaml")))
    assert spec.api is not None
    assert spec.api.lambda_authorizers["Gate"].function == "Gatekeeper"
    assert spec.unenforceable == []
