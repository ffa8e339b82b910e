"""The stack's outputs: what clients and the e2e suite read, each built from its resource."""

from __future__ import annotations

import re

from sam_local_cloud.cloudformation.template import Template
from tests.unit.template.support import broken, references, text_of

# Output -> the resource its value must be built from.
REQUIRED_OUTPUTS = {
    "ApiUrl": "ProductApi",
    "HttpApiUrl": "ProductsHttpApi",
    "TokenUrl": "UserPoolDomain",
    "Issuer": "UserPool",
    "JwksUrl": "UserPool",
    "UserPoolId": "UserPool",
    "UserPoolArn": "UserPool",
    "ProductAdminClientId": "ProductAdminClient",
    "ProductReaderClientId": "ProductReaderClient",
    "ProductUserClientId": "ProductUserClient",
    "SignInUrl": "ProductUserClient",
    "UserPoolDomainUrl": "UserPoolDomain",
    "TableName": "ProductsTable",
}


def output_problems(template: Template) -> list[str]:
    problems = []
    for name, resource in REQUIRED_OUTPUTS.items():
        output = template.outputs.get(name)
        if output is None:
            problems.append(f"no output {name}")
        elif "Condition" in output:
            problems.append(f"output {name} exists only under condition {output['Condition']}")
        elif resource not in references(output["Value"]):
            problems.append(f"output {name} is not built from {resource}: {output['Value']}")
    return problems


def test_outputs_give_what_clients_and_tests_need(transformed):
    assert output_problems(transformed) == []


def test_check_catches_missing_output():
    def drop(source):
        del source["Outputs"]["JwksUrl"]

    assert output_problems(broken(drop)) == ["no output JwksUrl"]


def test_check_catches_missing_http_api_url():
    def drop(source):
        del source["Outputs"]["HttpApiUrl"]

    assert output_problems(broken(drop)) == ["no output HttpApiUrl"]


def test_http_api_url_is_the_root_of_its_default_stage(transformed):
    # The $default stage has no path segment: clients append products, not a stage.
    url = text_of(transformed.outputs["HttpApiUrl"]["Value"])

    assert re.fullmatch(r"https://\$\{ProductsHttpApi\}\.execute-api\.[^/]+/", url), url
