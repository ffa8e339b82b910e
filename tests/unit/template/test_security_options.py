"""The security parameters, each off by default: the create function's idempotency table, reserved
concurrency, a WAF web ACL and a customer-managed KMS key; and every checkov skip says why."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from sam_local_cloud.cloudformation.resolve import Resolver
from sam_local_cloud.cloudformation.spec import active
from sam_local_cloud.cloudformation.template import Template, load_source, translate
from tests.unit.template.support import (
    ROUTES,
    SOURCE,
    as_list,
    broken,
    mentions,
    references,
    statements,
    text_of,
)

SECURITY_ON = {"EnableWaf": "true", "CustomerManagedKey": "true", "FunctionReservedConcurrency": "5"}


def resolved(template: Template, value: Any) -> Any:
    """A property value with Fn::If settled for the template's parameters (None for NoValue); Refs
    and GetAtts of resources are left as they are, for `references`."""
    resolver = Resolver(parameters=template.parameters, conditions=template.conditions)
    resolver.refs.update({name: {"Ref": name} for name in template.resources})
    resolver.attributes = _KeptAttributes()
    return resolver.resolve({"value": value}).get("value")


class _KeptAttributes(dict):
    def __getitem__(self, key: tuple[str, str]) -> dict[str, list[str]]:
        return {"Fn::GetAtt": list(key)}


def idempotency_problems(template: Template) -> list[str]:
    """The create function's idempotency table has the key and TTL attribute Powertools writes, and
    only that function may use it."""
    defaults = inspect.signature(DynamoDBPersistenceLayer).parameters
    key_attr, expiry_attr = defaults["key_attr"].default, defaults["expiry_attr"].default
    create = next(r.function for r in ROUTES if (r.method, r.path) == ("POST", "/products"))
    env = template.resources[create]["Properties"]["Environment"]["Variables"]
    table = references(env.get("IDEMPOTENCY_TABLE_NAME"))
    if len(table) != 1 or next(iter(table)) not in template.of_type("AWS::DynamoDB::Table"):
        return [f"{create}: IDEMPOTENCY_TABLE_NAME names no table of the stack"]
    (table,) = table
    props = template.resources[table]["Properties"]
    problems = []
    if props.get("KeySchema") != [{"AttributeName": key_attr, "KeyType": "HASH"}]:
        problems.append(f"{table}: key {props.get('KeySchema')} is not Powertools' {key_attr!r}")
    ttl = props.get("TimeToLiveSpecification", {})
    if not ttl.get("Enabled") or ttl.get("AttributeName") != expiry_attr:
        problems.append(f"{table}: TTL {ttl} does not delete on Powertools' {expiry_attr!r}")
    for name in sorted(template.of_type("AWS::Lambda::Function")):
        actions = {
            action
            for statement in statements(template, name)
            if table in references(statement.get("Resource"))
            for action in as_list(statement.get("Action", []))
        }
        wanted = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
        if name == create and actions != wanted:
            problems.append(f"{name}: may {sorted(actions)} on {table}, not {sorted(wanted)}")
        elif name != create and actions:
            problems.append(f"{name}: may {sorted(actions)} on {table}, which only {create} uses")
    return problems


def reserved_concurrency_problems(template: Template) -> list[str]:
    """Every function reserves FunctionReservedConcurrency executions; 0 reserves none."""
    wanted = int(template.parameters["FunctionReservedConcurrency"]) or None
    problems = []
    for name, function in sorted(template.of_type("AWS::Lambda::Function").items()):
        value = resolved(template, function["Properties"].get("ReservedConcurrentExecutions"))
        if (int(value) if value is not None else None) != wanted:
            problems.append(f"{name}: ReservedConcurrentExecutions {value}, not {wanted}")
    return problems


def waf_problems(template: Template) -> list[str]:
    """With EnableWaf, a regional web ACL that blocks by AWS's common rules and a per-IP rate limit
    guards the API's stage; without it, no WAF resource is created."""
    template = active(template)
    acls = template.of_type("AWS::WAFv2::WebACL")
    associations = template.of_type("AWS::WAFv2::WebACLAssociation")
    if template.parameters["EnableWaf"] != "true":
        return [f"{name}: created with EnableWaf false" for name in sorted({**acls, **associations})]
    if len(acls) != 1 or len(associations) != 1:
        return [f"expected one web ACL and one association, found {sorted(acls)}, {sorted(associations)}"]
    (acl_name, acl), (association_name, association) = *acls.items(), *associations.items()
    props = acl["Properties"]
    problems = []
    if props.get("Scope") != "REGIONAL":
        problems.append(f"{acl_name}: scope {props.get('Scope')}, not REGIONAL (a REST API stage)")
    rules = props.get("Rules", [])
    rate = [r for r in rules if "RateBasedStatement" in r["Statement"]]
    if not any(
        resolved(template, r["Statement"]["RateBasedStatement"]["Limit"])
        == template.parameters["WafRateLimit"]
        and r["Statement"]["RateBasedStatement"].get("AggregateKeyType") == "IP"
        and "Block" in r.get("Action", {})
        for r in rate
    ):
        problems.append(f"{acl_name}: no rule blocks an IP beyond WafRateLimit")
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]: r
        for r in rules
        if r["Statement"].get("ManagedRuleGroupStatement", {}).get("VendorName") == "AWS"
    }
    common = managed.get("AWSManagedRulesCommonRuleSet")
    if common is None:
        problems.append(f"{acl_name}: no AWS managed common rule set")
    elif common.get("OverrideAction") != {"None": {}}:
        problems.append(f"{acl_name}: the common rule set only counts ({common.get('OverrideAction')})")
    props = association["Properties"]
    api, _ = template.the_one("AWS::ApiGateway::RestApi")
    if acl_name not in references(props.get("WebACLArn")):
        problems.append(f"{association_name}: associates {props.get('WebACLArn')}, not {acl_name}")
    arn = text_of(props.get("ResourceArn"))
    if api not in references(arn) or "/stages/" not in arn:
        problems.append(f"{association_name}: guards {arn}, not a stage of {api}")
    return problems


def customer_managed_key_problems(template: Template) -> list[str]:
    """With CustomerManagedKey, one rotated key encrypts every table and log group; without it, none."""
    template = active(template)
    keys = template.of_type("AWS::KMS::Key")
    wanted = template.parameters["CustomerManagedKey"] == "true"
    if not wanted:
        problems = [f"{name}: created with CustomerManagedKey false" for name in keys]
    elif len(keys) != 1:
        return [f"expected one KMS key, found {sorted(keys)}"]
    else:
        (key, props), *_ = keys.items()
        problems = [] if props["Properties"].get("EnableKeyRotation") is True else [f"{key}: no rotation"]
        retained = props.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
        if retained != (template.parameters["DeletionProtection"] == "true"):
            problems.append(f"{key}: DeletionPolicy {props.get('DeletionPolicy')} does not follow the data's")
    for name, table in sorted(template.of_type("AWS::DynamoDB::Table").items()):
        sse = resolved(template, table["Properties"].get("SSESpecification")) or {}
        uses_key = sse.get("SSEType") == "KMS" and set(keys) & references(sse.get("KMSMasterKeyId"))
        if bool(uses_key) != wanted or not sse.get("SSEEnabled"):
            problems.append(f"{name}: SSESpecification {sse}")
    for name, group in sorted(template.of_type("AWS::Logs::LogGroup").items()):
        key_id = resolved(template, group["Properties"].get("KmsKeyId"))
        if bool(set(keys) & references(key_id)) != wanted:
            problems.append(f"{name}: KmsKeyId {key_id}")
    return problems


def checkov_skip_problems(source: dict[str, Any]) -> list[str]:
    """Every checkov skip in template.yaml says why, next to the resource it concerns."""
    problems = []
    for name, resource in source["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            if not re.fullmatch(r"CKV2?_AWS_\d+", str(skip.get("id"))):
                problems.append(f"{name}: skip {skip} names no checkov check")
            if len(str(skip.get("comment", "")).split()) < 5:
                problems.append(f"{name}: skip {skip.get('id')} does not say why")
    return problems


@pytest.fixture(
    params=[{}, SECURITY_ON, {**SECURITY_ON, "DeletionProtection": "true"}], ids=["off", "on", "on+kept"]
)
def with_security(request) -> Template:
    return translate(request.param)


def test_create_function_has_an_idempotency_table_only_it_uses(with_security):
    assert idempotency_problems(with_security) == []


def test_functions_reserve_the_concurrency_asked_for_or_none(with_security):
    assert reserved_concurrency_problems(with_security) == []


def test_waf_guards_the_stage_exactly_when_enabled(with_security):
    assert waf_problems(with_security) == []


def test_a_customer_managed_key_encrypts_tables_and_logs_exactly_when_asked(with_security):
    assert customer_managed_key_problems(with_security) == []


def test_security_options_that_cost_money_or_can_fail_a_deploy_are_off_by_default():
    defaults = {name: p.get("Default") for name, p in SOURCE["Parameters"].items()}

    assert defaults["EnableWaf"] == "false"
    assert defaults["CustomerManagedKey"] == "false"
    assert defaults["FunctionReservedConcurrency"] == 0


def test_every_checkov_skip_says_why():
    assert checkov_skip_problems(SOURCE) == []


def test_check_catches_an_idempotency_table_without_powertools_ttl():
    def rename_ttl(source):
        source["Resources"]["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"] = (
            "ttl"
        )

    assert mentions(idempotency_problems(broken(rename_ttl)), "IdempotencyTable", "TTL")


def test_check_catches_a_function_reserving_nothing_when_asked():
    def drop(source):
        del source["Globals"]["Function"]["ReservedConcurrentExecutions"]

    assert mentions(
        reserved_concurrency_problems(broken(drop, **SECURITY_ON)), "ReservedConcurrentExecutions None"
    )


def test_check_catches_a_web_acl_that_only_counts_or_guards_nothing():
    def weaken(source):
        rules = source["Resources"]["ApiWebAcl"]["Properties"]["Rules"]
        next(r for r in rules if r["Name"] == "AWSManagedRulesCommonRuleSet")["OverrideAction"] = {
            "Count": {}
        }
        source["Resources"]["ApiWebAclAssociation"]["Properties"]["ResourceArn"] = "arn:aws:elb:x"

    problems = waf_problems(broken(weaken, **SECURITY_ON))

    assert mentions(problems, "only counts")
    assert mentions(problems, "ApiWebAclAssociation", "not a stage")


def test_check_catches_a_log_group_left_out_of_the_customer_managed_key():
    def drop(source):
        del source["Resources"]["FunctionLogGroup"]["Properties"]["KmsKeyId"]

    assert mentions(customer_managed_key_problems(broken(drop, **SECURITY_ON)), "FunctionLogGroup")


def test_check_catches_a_checkov_skip_without_a_reason():
    source = load_source()
    source["Resources"]["IdempotencyTable"]["Metadata"]["checkov"]["skip"][0]["comment"] = "no"

    assert mentions(checkov_skip_problems(source), "IdempotencyTable", "does not say why")
