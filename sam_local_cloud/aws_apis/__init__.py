"""The local AWS APIs: moto, and the only code of the local cloud that reaches into moto's internals.

moto serves the AWS APIs as AWS defines them; what the local cloud changes in it lives here and
nowhere else, each written against the moto release below (pinned in pyproject.toml, and checked by
tests/unit/cloud/test_aws_apis.py, which fails on an upgrade until each part has been looked at):
- app.py: moto's dispatcher with the per-request work done once (service by host, method names), and
  request ids drawn in one call;
- cognito_ids.py: pool ids, client ids and secrets in Cognito's formats;
- ordered_scan.py: Scan pages at a constant cost;
- dynamodb_results.py: DynamoDB answers that are already wire JSON written as they are;
- cognito_users.py: a pool's people, read from moto's Cognito models;
- cognito_secrets.py: an app client's secrets, up to two, kept on moto's client model;
- dynamodb_json.py: DynamoDB calls handed to moto's DynamoDB handler without its Flask app;
- cloudformation_models.py: the template's resources made with moto's own CloudFormation models;
- stack.py: the local stack in moto's CloudFormation backend, for CloudFormation's API;
- lambda_deliveries.py: what moto's SNS, S3 and EventBridge would hand its own Lambda, handed to the
  local cloud's functions (sam_local_cloud/triggers/).
- snapshot.py: every service's backends pickled and put back, so the state outlives a restart (a file
  saved by another moto release is refused: sam_local_cloud/state.py).
"""

from __future__ import annotations

MOTO_VERSION = "5.2.5"


def use_local_aws() -> None:
    """moto as the local cloud serves it: Cognito's id formats, ordered scans, plain DynamoDB answers."""
    from sam_local_cloud.aws_apis.cognito_ids import use_cognito_formats
    from sam_local_cloud.aws_apis.dynamodb_results import use_plain_dynamodb_results
    from sam_local_cloud.aws_apis.ordered_scan import use_ordered_scans

    use_cognito_formats()
    use_ordered_scans()
    use_plain_dynamodb_results()
