"""sam_local_cloud/aws_apis/cognito_ids.py: pool ids, client ids and secrets from moto in Cognito's
formats."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.cognitoidp import models

from sam_local_cloud.aws_apis.cognito_ids import use_cognito_formats
from tests.offline_aws import offline_aws

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def pool() -> Iterator[tuple[Any, str]]:
    """moto's Cognito in Cognito's formats, and one pool made there; moto's own generators come back after."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(models, "generate_id", models.generate_id)
        patch.setattr(models.CognitoIdpUserPoolClient, "__init__", models.CognitoIdpUserPoolClient.__init__)
        patch.setattr(models, "_cognito_formats", False, raising=False)
        with offline_aws(REGION):
            use_cognito_formats()
            cognito = boto3.client("cognito-idp", region_name=REGION)
            yield cognito, cognito.create_user_pool(PoolName="pool")["UserPool"]["Id"]


def test_pool_id_is_the_region_and_nine_letters_and_digits(pool: tuple[Any, str]) -> None:
    _, pool_id = pool
    assert re.fullmatch(rf"{REGION}_[A-Za-z0-9]{{9}}", pool_id), pool_id


def test_client_id_and_secret_are_lowercase_letters_and_digits(pool: tuple[Any, str]) -> None:
    cognito, pool_id = pool
    client = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="machine", GenerateSecret=True)
    client_id, secret = client["UserPoolClient"]["ClientId"], client["UserPoolClient"]["ClientSecret"]
    assert re.fullmatch(r"[a-z0-9]{26}", client_id), client_id
    assert re.fullmatch(r"[a-z0-9]{51}", secret), secret
    described = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    assert described["ClientSecret"] == secret


def test_client_without_a_secret_has_a_cognito_id_and_no_secret(pool: tuple[Any, str]) -> None:
    cognito, pool_id = pool
    client = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="browser")["UserPoolClient"]
    assert re.fullmatch(r"[a-z0-9]{26}", client["ClientId"]), client["ClientId"]
    assert "ClientSecret" not in client
