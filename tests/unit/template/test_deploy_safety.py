"""Deploys on the first try, side by side. Each check reads CloudFormation's documented behaviour:
Cognito domain prefixes are unique per region across all accounts; API Gateway refuses a stage
with access logs until the account has its CloudWatch role; DependsOn may not name a resource
whose condition is false; Retain keeps a resource even when the stack's first create rolls back."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from sam_local_cloud.cloudformation.template import Template, load_source, translate
from tests.harness import ROOT
from tests.unit.template.support import as_list, broken, evaluate_condition, mentions, references

COGNITO_DOMAIN_PREFIX = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
COGNITO_RESERVED_WORDS = ("aws", "amazon", "cognito")
ACCOUNT_ROLE_PARAMETER = "SetApiGatewayAccountRole"


def samconfig_stack_names() -> dict[str, str]:
    """Each samconfig.toml environment's stack name."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    return {
        env: sections["global"]["parameters"]["stack_name"]
        for env, sections in config.items()
        if isinstance(sections, dict) and "stack_name" in sections.get("global", {}).get("parameters", {})
    }


def domain_prefix_problems(stack_names: list[str], source: dict[str, Any] | None = None) -> list[str]:
    """The Cognito domain prefix of stacks side by side in one account and region: valid and distinct."""
    prefixes: dict[str, str] = {}
    problems = []
    for stack_name in stack_names:
        t = translate(source=source, stack_name=stack_name) if source else translate(stack_name=stack_name)
        _, domain = t.the_one("AWS::Cognito::UserPoolDomain")
        prefix = domain["Properties"]["Domain"]
        if not isinstance(prefix, str) or not COGNITO_DOMAIN_PREFIX.match(prefix):
            problems.append(f"stack {stack_name}: domain prefix {prefix!r} is not one Cognito accepts")
        elif any(word in prefix for word in COGNITO_RESERVED_WORDS):
            problems.append(f"stack {stack_name}: domain prefix {prefix!r} holds a word Cognito reserves")
        if prefix in prefixes.values():
            other = next(name for name, p in prefixes.items() if p == prefix)
            problems.append(f"stacks {other} and {stack_name} share the domain prefix {prefix!r}")
        prefixes[stack_name] = prefix
    return problems


def created(template: Template, name: str) -> bool:
    condition = template.resources[name].get("Condition")
    return condition is None or evaluate_condition(template, condition)


def dependencies(template: Template, name: str) -> set[str]:
    """What CloudFormation makes a resource wait for: DependsOn, and every Ref and GetAtt it holds."""
    resource = template.resources[name]
    found = set(as_list(resource.get("DependsOn", [])))
    found |= references(resource.get("Properties", {})) | references(resource.get("Metadata", {}))
    return {d for d in found if d in template.resources}


def waits_for(template: Template, name: str, target: str) -> bool:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current == target:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(dependencies(template, current))
    return False


def account_role_problems(template: Template) -> list[str]:
    """Stages that write access logs wait for the account's CloudWatch role when this stack sets it;
    the role and the account setting exist only when SetApiGatewayAccountRole is true; DependsOn
    never names a resource that is not created."""
    sets_it = template.parameters[ACCOUNT_ROLE_PARAMETER] == "true"
    accounts = [n for n in template.of_type("AWS::ApiGateway::Account") if created(template, n)]
    problems = []
    if sets_it and len(accounts) != 1:
        problems.append(f"{ACCOUNT_ROLE_PARAMETER}=true, yet {len(accounts)} AWS::ApiGateway::Account")
    if not sets_it and accounts:
        problems.append(f"{ACCOUNT_ROLE_PARAMETER}=false, yet {accounts} set the account-wide role")
    for name, resource in template.resources.items():
        for target in as_list(resource.get("DependsOn", [])):
            if target not in template.resources or not created(template, target):
                problems.append(
                    f"{name}: DependsOn {target}, which is not created, so the template is refused"
                )
    for stage, resource in template.of_type("AWS::ApiGateway::Stage").items():
        if not resource["Properties"].get("AccessLogSetting"):
            continue
        for account in accounts:
            if not waits_for(template, stage, account):
                problems.append(f"{stage}: turns on access logs without waiting for {account}")
    return problems


def deletion_policy_problems(template: Template) -> list[str]:
    """No Retain: a first create that rolls back must leave nothing behind (RetainExceptOnCreate)."""
    return [
        f"{name}: DeletionPolicy Retain keeps it when the first create rolls back; use RetainExceptOnCreate"
        for name, resource in template.resources.items()
        if resource.get("DeletionPolicy") == "Retain"
    ]


def custom_domain_problems(template: Template) -> list[str]:
    """With a custom domain, an output gives the CloudFront name its DNS record must point at."""
    custom = bool(template.parameters.get("CognitoCustomDomain"))
    aliases = [
        name
        for name, output in template.outputs.items()
        if output.get("Value") == {"Fn::GetAtt": ["UserPoolDomain", "CloudFrontDistribution"]}
    ]
    if len(aliases) != 1:
        return [f"expected one output with UserPoolDomain's CloudFront name, found {aliases}"]
    condition = template.outputs[aliases[0]].get("Condition")
    shown = condition is None or evaluate_condition(template, condition)
    if shown != custom:
        return [f"{aliases[0]}: shown={shown} with CognitoCustomDomain {'set' if custom else 'unset'}"]
    return []


CUSTOM_DOMAIN = {
    "CognitoCustomDomain": "auth.example.com",
    "CognitoCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d",
}


def test_samconfig_environments_get_distinct_valid_cognito_domain_prefixes():
    names = samconfig_stack_names()

    assert len(names) >= 2
    assert domain_prefix_problems(sorted(names.values())) == []


def test_samconfig_environments_name_their_region():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    for env in samconfig_stack_names():
        sections = config[env]
        parameters = {**sections["global"]["parameters"], **sections.get("deploy", {}).get("parameters", {})}
        assert "region" in parameters, f"[{env}] names no region: sam deploy would stop on it"
        assert re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", parameters["region"])


@pytest.mark.parametrize("sets_it", ["true", "false"])
def test_stage_waits_for_the_account_role_and_the_role_is_optional(sets_it):
    assert account_role_problems(translate({ACCOUNT_ROLE_PARAMETER: sets_it})) == []


@pytest.mark.parametrize("protect", ["true", "false"])
def test_nothing_is_kept_when_the_first_create_rolls_back(protect):
    assert deletion_policy_problems(translate({"DeletionProtection": protect})) == []


def test_custom_domain_gets_its_dns_alias_target_as_an_output():
    assert custom_domain_problems(translate(CUSTOM_DOMAIN)) == []
    assert custom_domain_problems(translate()) == []


def test_check_catches_domain_prefix_shared_by_two_stacks():
    source = load_source()
    domain = source["Resources"]["UserPoolDomain"]["Properties"]["Domain"]
    domain["Fn::If"][2]["Fn::If"][2] = {"Fn::Sub": "product-api-${AWS::AccountId}"}

    assert mentions(domain_prefix_problems(["product-api", "product-api-prod"], source), "share")


def test_check_catches_stage_that_does_not_wait_for_the_account_role():
    def no_wait(source):
        del source["Resources"]["ProductApi"]["DependsOn"]

    assert mentions(account_role_problems(broken(no_wait)), "without waiting for ApiGatewayAccount")


def test_check_catches_depends_on_a_resource_that_is_not_created():
    def direct(source):
        source["Resources"]["ProductApi"]["DependsOn"] = "ApiGatewayAccount"

    problems = account_role_problems(broken(direct, **{ACCOUNT_ROLE_PARAMETER: "false"}))

    assert mentions(problems, "DependsOn ApiGatewayAccount", "not created")


def test_check_catches_retain_and_a_missing_alias_output():
    def retain(source):
        source["Resources"]["ApiGatewayCloudWatchRole"]["DeletionPolicy"] = "Retain"
        del source["Outputs"]["CustomDomainAliasTarget"]

    t = broken(retain, **CUSTOM_DOMAIN)

    assert mentions(deletion_policy_problems(t), "ApiGatewayCloudWatchRole", "RetainExceptOnCreate")
    assert mentions(custom_domain_problems(t), "expected one output")
