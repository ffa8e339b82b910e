"""sam_local_cloud/cloudformation/resolve.py: CloudFormation intrinsics evaluated against locally known
values."""

from __future__ import annotations

from typing import Any

import pytest

from sam_local_cloud.cloudformation.resolve import Resolver, Unresolvable, pseudo_parameters

NO_VALUE = {"Ref": "AWS::NoValue"}


@pytest.fixture
def resolver() -> Resolver:
    return Resolver(
        parameters={"Stage": "v1", "Env": "prod", **pseudo_parameters("eu-west-1", "111122223333", "shop")},
        conditions={
            "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]},
            "NotDev": {"Fn::Not": [{"Condition": "IsDev"}]},
            "ProdAndNotDev": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "NotDev"}]},
            "DevOrProd": {"Fn::Or": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]},
            "DevAndProd": {"Fn::And": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]},
        },
        refs={"Table": "shop-products", "Api": "a1b2c3", "Api.Stage": "v1"},
        attributes={
            ("Table", "Arn"): "arn:aws:dynamodb:eu-west-1:111122223333:table/shop-products",
            ("Pool", "ProviderURL"): "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc",
        },
    )


# ---------------------------------------------------------------- Ref and Fn::GetAtt


def test_ref_to_a_parameter_is_its_value(resolver: Resolver) -> None:
    assert resolver.resolve({"Ref": "Stage"}) == "v1"


def test_ref_to_a_resource_is_its_physical_id(resolver: Resolver) -> None:
    assert resolver.resolve({"Ref": "Table"}) == "shop-products"


def test_ref_to_a_pseudo_parameter(resolver: Resolver) -> None:
    assert resolver.resolve([{"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}]) == [
        "eu-west-1",
        "111122223333",
    ]


def test_no_value_drops_the_key_that_holds_it(resolver: Resolver) -> None:
    assert resolver.resolve({"Keep": {"Ref": "Stage"}, "Drop": NO_VALUE}) == {"Keep": "v1"}


def test_no_value_drops_the_list_item_that_holds_it(resolver: Resolver) -> None:
    assert resolver.resolve(["a", NO_VALUE, "b"]) == ["a", "b"]


def test_get_att_string_form(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::GetAtt": "Table.Arn"}).endswith(":table/shop-products")


def test_get_att_list_form_with_an_intrinsic_attribute(resolver: Resolver) -> None:
    value = resolver.resolve({"Fn::GetAtt": ["Pool", {"Fn::Join": ["", ["Provider", "URL"]]}]})
    assert value == "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc"


# ---------------------------------------------------------------- Fn::Sub


def test_sub_replaces_parameters_pseudo_parameters_and_refs(resolver: Resolver) -> None:
    value = resolver.resolve({"Fn::Sub": "${AWS::StackName}-${Stage}-${Table}"})
    assert value == "shop-v1-shop-products"


def test_sub_replaces_resource_attributes(resolver: Resolver) -> None:
    value = resolver.resolve({"Fn::Sub": "arn=${Table.Arn}"})
    assert value == "arn=arn:aws:dynamodb:eu-west-1:111122223333:table/shop-products"


def test_sub_replaces_sams_dotted_shorthands_known_as_refs(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::Sub": "https://${Api}.example.com/${Api.Stage}"}) == (
        "https://a1b2c3.example.com/v1"
    )


def test_sub_with_a_variables_map_resolves_the_variables(resolver: Resolver) -> None:
    value = resolver.resolve({"Fn::Sub": ["${Name}/${Stage}", {"Name": {"Fn::GetAtt": "Table.Arn"}}]})
    assert value == "arn:aws:dynamodb:eu-west-1:111122223333:table/shop-products/v1"


def test_sub_variables_map_wins_over_a_parameter_of_the_same_name(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::Sub": ["${Stage}", {"Stage": "local"}]}) == "local"


def test_sub_escape_keeps_a_literal_placeholder(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::Sub": "${!Literal}-${Stage}-${!Stage}"}) == "${Literal}-v1-${Stage}"


def test_sub_of_an_unknown_name_is_unresolvable(resolver: Resolver) -> None:
    with pytest.raises(Unresolvable, match="Missing"):
        resolver.resolve({"Fn::Sub": "${Missing}"})


# ---------------------------------------------------------------- conditions and Fn::If


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("IsProd", True),
        ("IsDev", False),
        ("NotDev", True),
        ("ProdAndNotDev", True),
        ("DevAndProd", False),
        ("DevOrProd", True),
    ],
)
def test_condition_functions(resolver: Resolver, condition: str, expected: bool) -> None:
    assert resolver.condition(condition) is expected


def test_if_takes_the_branch_of_its_condition(resolver: Resolver) -> None:
    value = resolver.resolve(
        [{"Fn::If": ["IsProd", {"Ref": "Table"}, "other"]}, {"Fn::If": ["IsDev", "dev", {"Ref": "Stage"}]}]
    )
    assert value == ["shop-products", "v1"]


def test_if_with_no_value_drops_the_property(resolver: Resolver) -> None:
    value = resolver.resolve({"Name": "x", "Domain": {"Fn::If": ["IsDev", "dev.example.com", NO_VALUE]}})
    assert value == {"Name": "x"}


def test_unknown_condition_is_unresolvable(resolver: Resolver) -> None:
    with pytest.raises(Unresolvable, match="Nope"):
        resolver.resolve({"Fn::If": ["Nope", "a", "b"]})


# ---------------------------------------------------------------- Fn::Join, Fn::Select, Fn::Split


def test_join_resolves_its_items(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::Join": [":", ["a", {"Ref": "Stage"}, NO_VALUE, "b"]]}) == "a:v1:b"


def test_select_picks_by_index(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::Select": ["1", ["a", {"Ref": "Table"}, "c"]]}) == "shop-products"


def test_split_then_select(resolver: Resolver) -> None:
    value = resolver.resolve({"Fn::Select": [5, {"Fn::Split": [":", {"Fn::GetAtt": "Table.Arn"}]}]})
    assert value == "table/shop-products"


def test_split_gives_a_list(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::Split": [",", "http://a,http://b"]}) == ["http://a", "http://b"]


# ---------------------------------------------------------------- what stays plain, what fails


def test_single_key_dict_that_is_not_a_function_is_kept(resolver: Resolver) -> None:
    assert resolver.resolve({"Variables": {"TABLE": {"Ref": "Table"}}}) == {
        "Variables": {"TABLE": "shop-products"}
    }


@pytest.mark.parametrize(
    "value",
    [
        {"Ref": "NotThere"},
        {"Fn::GetAtt": ["Table", "StreamArn"]},
        {"Fn::GetAtt": "Nowhere.Arn"},
        {"Fn::ImportValue": "shared-vpc-id"},
        {"Fn::Base64": "text"},
    ],
    ids=["unknown ref", "unknown attribute", "unknown resource", "Fn::ImportValue", "Fn::Base64"],
)
def test_what_the_local_cloud_does_not_know_is_unresolvable(
    resolver: Resolver, value: dict[str, Any]
) -> None:
    with pytest.raises(Unresolvable):
        resolver.resolve(value)


def test_pseudo_parameters_name_the_stack() -> None:
    pseudo = pseudo_parameters("eu-west-1", "111122223333", "shop")
    assert pseudo["AWS::StackId"].startswith("arn:aws:cloudformation:eu-west-1:111122223333:stack/shop/")
    assert (pseudo["AWS::Partition"], pseudo["AWS::URLSuffix"]) == ("aws", "amazonaws.com")
    assert (pseudo["AWS::Region"], pseudo["AWS::AccountId"], pseudo["AWS::StackName"]) == (
        "eu-west-1",
        "111122223333",
        "shop",
    )


# ---------------------------------------------------------------- Fn::ImportValue


def test_import_value_is_the_export_of_a_stack_served_before() -> None:
    resolver = Resolver(
        parameters={"CognitoStack": "shared-auth"},
        imports={"shared-auth-UserPoolId": "us-east-1_AbC123"},
    )
    imported = {"Fn::ImportValue": {"Fn::Sub": "${CognitoStack}-UserPoolId"}}
    assert resolver.resolve({"Pool": imported}) == {"Pool": "us-east-1_AbC123"}


def test_import_value_of_a_name_no_served_stack_exports_is_unresolvable() -> None:
    resolver = Resolver(parameters={}, imports={"shared-auth-UserPoolId": "us-east-1_AbC123"})
    with pytest.raises(Unresolvable, match="'other-UserPoolId': no served stack exports it"):
        resolver.resolve({"Fn::ImportValue": "other-UserPoolId"})
