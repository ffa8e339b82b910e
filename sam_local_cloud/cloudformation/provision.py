"""The template's resources, created in the local AWS (moto) as CloudFormation would create them.

Resources are made in dependency order (sam_local_cloud/cloudformation/inventory.py). A type moto models is
made with moto's own CloudFormation model (sam_local_cloud/aws_apis/cloudformation_models.py); a few types
have a creator here, where the local cloud does more than moto's model (the pool and its clients, tables, API
keys) or moto has none (secrets, subscriptions, policies). Each records the physical ids and attributes it
made in the resolver, so later resources, functions' environments and the outputs can refer to them. Resources
the local cloud serves itself or does not reproduce still get a name, so a `Ref` to them resolves; every
resource's fate is recorded (`Provisioned.resources`) for the start-up report and the local stack's
CloudFormation API. Serving requests is not done here (sam_local_cloud/cloud.py wires that).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from sam_local_cloud.aws_apis import cloudformation_models
from sam_local_cloud.cloudformation.inventory import (
    CREATED,
    NO_EMULATION,
    NOT_REPRODUCED,
    NOT_REPRODUCED_REASONS,
    SERVED,
    SERVED_TYPES,
    StackResource,
    dependency_order,
    physical_name,
)
from sam_local_cloud.cloudformation.resolve import Resolver, Unresolvable, pseudo_parameters, stack_id
from sam_local_cloud.cloudformation.spec import CloudSpec
from sam_local_cloud.cloudformation.template import Template
from sam_local_cloud.cognito.people import SampleUser
from sam_local_cloud.cognito.tokens import aws_issuer

if TYPE_CHECKING:
    from sam_local_cloud.state import Kept

ACCOUNT_ID = "123456789012"  # moto's default account
LOCAL_API_ID = "local"
STANDARD_SCOPES = {"openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"}
_BATCH = 25  # BatchWriteItem's limit


# (parent stack name, logical id, the template's local path as written, parameters) -> (the nested
# stack's id, its outputs): made by the cloud, which serves the nested stack as a stack of its own.
NestedStacks = Callable[[str, str, str, dict[str, str]], tuple[str, dict[str, str]]]


def http_api_id(logical_id: str) -> str:
    """An HTTP API's id, shaped like AWS's (10 lower-case letters and digits), the same at every start."""
    return hashlib.sha256(logical_id.encode()).hexdigest()[:10]


@dataclass
class Provisioned:
    """What was made: the resolver (physical ids, attributes) and what the outputs need besides."""

    resolver: Resolver
    user_pool_id: str | None
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id -> described client
    api_key_values: dict[str, str] = field(default_factory=dict)  # logical id -> key value
    seeded: int | None = None
    users: list[SampleUser] = field(default_factory=list)
    resources: dict[str, StackResource] = field(default_factory=dict)  # logical id -> what became of it
    created: list[str] = field(default_factory=list)  # logical ids made by this run (not kept from the last)


class Provisioner:
    def __init__(
        self,
        aws: Callable[[str], Any],
        *,
        region: str,
        stack_name: str,
        imports: Mapping[str, str] | None = None,
        rest_api_id: str = LOCAL_API_ID,
        nested: NestedStacks | None = None,
        rest_api_ids: Mapping[str, str] | None = None,
    ):
        self._aws = aws  # service name -> boto3 client on the local endpoint
        self.region = region
        self.stack_name = stack_name
        self.imports = dict(imports or {})  # the exports of the stacks served before (Fn::ImportValue)
        self.rest_api_id = rest_api_id  # the first REST API's
        # Each other REST API's id, by logical id (sam_local_cloud/cloud.py names them).
        self.rest_api_ids = dict(rest_api_ids or {})
        # Makes a nested stack whose template is a local file; None: nested stacks are not made.
        self.nested = nested

    def provision(
        self,
        template: Template,
        spec: CloudSpec,
        seed: Path | None = None,
        users: list[SampleUser] | None = None,
        users_source: str = "users",
        kept: Kept | None = None,
    ) -> Provisioned:
        """`kept`: what a previous run made (sam_local_cloud/state.py), with moto's state already loaded:
        those resources are kept as they are, the others made."""
        resolver = Resolver(
            parameters={**template.parameters, **pseudo_parameters(self.region, ACCOUNT_ID, self.stack_name)},
            conditions=template.conditions,
            imports=self.imports,
        )
        # Every resource has a Ref; the ones created below get their real ids.
        resolver.refs.update({name: name for name in template.resources})
        for api in spec.rest_apis:
            first = api is spec.rest_apis[0]
            resolver.refs[api.logical_id] = self.rest_api_id if first else self.rest_api_ids[api.logical_id]
            for stage in api.stages:
                if stage.logical_id:  # a Deployment's own stage has no resource of its own
                    resolver.refs[stage.logical_id] = stage.name
            resolver.refs[f"{api.logical_id}.Stage"] = api.stage
        for http_api in spec.http_apis:
            api_id = http_api_id(http_api.logical_id)
            resolver.refs[http_api.logical_id] = api_id
            resolver.attributes[(http_api.logical_id, "ApiId")] = api_id
            resolver.attributes[(http_api.logical_id, "ApiEndpoint")] = (
                f"https://{api_id}.execute-api.{self.region}.amazonaws.com"
            )
            if http_api.stage_logical_id:
                resolver.refs[http_api.stage_logical_id] = http_api.stage
        if len(spec.user_pools) > 1:
            raise SystemExit(
                f"the local cloud serves one user pool; the template has {sorted(spec.user_pools)}"
            )
        made = Provisioned(resolver, user_pool_id=None)
        creators = self._creators()
        ranks = {resource_type: rank for rank, resource_type in enumerate(creators)}

        def rank(name: str) -> int:
            return ranks.get(template.resources[name]["Type"], len(ranks))

        for name in dependency_order(template.resources, rank):
            resource = template.resources[name]
            resource_type, props = resource["Type"], resource.get("Properties", {})
            status = SERVED if resource_type in SERVED_TYPES else CREATED
            if kept is not None and kept.restore(made, name, resource):
                made.resources[name] = StackResource(name, resource_type, status, resolver.refs[name])
                continue
            create = creators.get(resource_type)
            if resource_type == "AWS::CloudFormation::Stack" and self.nested is not None:
                made.resources[name] = self._create_nested_stack(made, name, props)
            elif create is not None:
                create(made, name, props)
                made.resources[name] = StackResource(name, resource_type, status, resolver.refs[name])
            elif cloudformation_models.models(resource_type):
                made.resources[name] = self._create_with_moto(made, name, resource_type, props)
            else:
                status = SERVED if resource_type in SERVED_TYPES else NOT_REPRODUCED
                reason = "" if status == SERVED else NOT_REPRODUCED_REASONS.get(resource_type, NO_EMULATION)
                made.resources[name] = StackResource(name, resource_type, status, resolver.refs[name], reason)
            if made.resources[name].status == CREATED:
                made.created.append(name)
        if seed is not None:
            made.seeded = self._seed(template, made, seed)
        if users:
            if made.user_pool_id is None:
                raise SystemExit(f"{users_source}: names people, but the template has no user pool")
            made.users = self._create_users(made, users, users_source)
        return made

    # Types that are only named here (not made in the local AWS): named afresh at every start, never
    # kept from the last run (sam_local_cloud/state.py). A nested stack too: it is served anew at every
    # start, its own resources kept by its own record (kept by its stack name).
    NAMED_ONLY = frozenset(
        {"AWS::Lambda::Function", "AWS::Cognito::UserPoolDomain", "AWS::CloudFormation::Stack"}
    )

    def _creators(self) -> dict[str, Callable[[Provisioned, str, dict[str, Any]], None]]:
        """The types made here rather than with moto's models. Among resources whose references allow
        either first, this order: names first, then pools before their clients, keys before plans."""
        return {
            "AWS::Lambda::Function": self._name_function,
            "AWS::Cognito::UserPool": self._create_user_pool,
            "AWS::Cognito::UserPoolResourceServer": self._create_resource_server,
            "AWS::Cognito::UserPoolClient": self._create_client,
            "AWS::Cognito::UserPoolGroup": self._create_group,
            "AWS::Cognito::UserPoolDomain": self._name_domain,
            "AWS::DynamoDB::Table": self._create_table,
            "AWS::ApiGateway::ApiKey": self._create_api_key,
            "AWS::ApiGateway::UsagePlan": self._create_usage_plan,
            "AWS::ApiGateway::UsagePlanKey": self._create_usage_plan_key,
            "AWS::SecretsManager::Secret": self._create_secret,
            "AWS::SNS::Subscription": self._create_subscription,
            "AWS::SQS::QueuePolicy": self._set_queue_policy,
            "AWS::SNS::TopicPolicy": self._set_topic_policy,
            "AWS::S3::BucketPolicy": self._set_bucket_policy,
        }

    def _create_nested_stack(self, made: Provisioned, name: str, props: dict[str, Any]) -> StackResource:
        """A nested stack (AWS::CloudFormation::Stack, or SAM's AWS::Serverless::Application) from a local
        template: made as a stack of its own, its id the `Ref`, its outputs `Fn::GetAtt Name.Outputs.X`."""
        assert self.nested is not None
        resolver = made.resolver
        kind = "AWS::CloudFormation::Stack"
        url = props.get("TemplateURL")
        if not isinstance(url, str) or re.match(r"(https?|s3)://", url):
            reason = "its template is not a local file (TemplateURL or Location)"
            return StackResource(name, kind, NOT_REPRODUCED, resolver.refs[name], reason)
        try:
            parameters = {k: str(v) for k, v in resolver.resolve(props.get("Parameters") or {}).items()}
        except Unresolvable as error:
            where = f"stack {self.stack_name}: nested stack {name}"
            raise SystemExit(f"{where}: its Parameters: {error}") from None
        nested_id, nested_outputs = self.nested(self.stack_name, name, url, parameters)
        resolver.refs[name] = nested_id
        for key, value in nested_outputs.items():
            resolver.attributes[(name, f"Outputs.{key}")] = value
        return StackResource(name, kind, CREATED, nested_id)

    # ------------------------------------------------------------ with moto's CloudFormation models

    def _create_with_moto(
        self, made: Provisioned, name: str, resource_type: str, props: dict[str, Any]
    ) -> StackResource:
        resolver = made.resolver
        try:
            resolved = resolver.resolve(props)
        except Unresolvable as error:
            return StackResource(name, resource_type, NOT_REPRODUCED, resolver.refs[name], str(error))
        name_key = cloudformation_models.name_property(resource_type)
        given = resolved.get(name_key) if name_key else None
        fifo = str(resolved.get("FifoQueue", resolved.get("FifoTopic", ""))).lower() == "true"
        physical = str(given) if given else physical_name(resource_type, self.stack_name, name, fifo=fifo)
        notifications = resolved.pop("NotificationConfiguration", None)
        try:
            model = cloudformation_models.create(
                resource_type,
                name,
                resolved,
                physical,
                account_id=ACCOUNT_ID,
                region=self.region,
                stack_id=stack_id(self.region, ACCOUNT_ID, self.stack_name),
            )
        except cloudformation_models.ModelFailed as error:
            return StackResource(
                name, resource_type, NOT_REPRODUCED, resolver.refs[name], f"moto refused it: {error}"
            )
        resolver.refs[name] = cloudformation_models.physical_id(resource_type, model)
        resolver.attribute_sources[name] = lambda attribute: cloudformation_models.attribute(
            resource_type, model, attribute
        )
        note = ""
        if notifications:
            note = self._set_bucket_notifications(resolver.refs[name], notifications)
        return StackResource(name, resource_type, CREATED, resolver.refs[name], note)

    def _set_bucket_notifications(self, bucket: str, configuration: dict[str, Any]) -> str:
        """The bucket's NotificationConfiguration, set with S3's API as CloudFormation sets it; what
        cannot be set is returned as a note (the bucket itself exists)."""
        try:
            self._aws("s3").put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration=bucket_notifications(configuration)
            )
        except (ClientError, KeyError, TypeError) as error:
            return f"its NotificationConfiguration was not set: {error}"
        return ""

    # ------------------------------------------------------------ types moto has no model of

    def _create_secret(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        props = made.resolver.resolve(props)
        secrets = self._aws("secretsmanager")
        request: dict[str, Any] = {
            "Name": props.get("Name") or physical_name("AWS::SecretsManager::Secret", self.stack_name, name)
        }
        for same in ("Description", "KmsKeyId", "Tags"):
            if same in props:
                request[same] = props[same]
        if "SecretString" in props:
            request["SecretString"] = str(props["SecretString"])
        else:  # CloudFormation generates one, with GenerateSecretString's rules or its defaults
            request["SecretString"] = generated_secret(secrets, props.get("GenerateSecretString") or {})
        secret = secrets.create_secret(**request)
        made.resolver.refs[name] = secret["ARN"]
        made.resolver.attributes[(name, "Id")] = secret["ARN"]

    def _create_subscription(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        props = made.resolver.resolve(props)
        request: dict[str, Any] = {
            "TopicArn": props["TopicArn"],
            "Protocol": props["Protocol"],
            "ReturnSubscriptionArn": True,
        }
        if "Endpoint" in props:
            request["Endpoint"] = str(props["Endpoint"])
        attributes = {
            key: json.dumps(value)
            if isinstance(value, (dict, list))
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
            for key, value in props.items()
            if key in _SUBSCRIPTION_ATTRIBUTES
        }
        if attributes:
            request["Attributes"] = attributes
        made.resolver.refs[name] = self._aws("sns").subscribe(**request)["SubscriptionArn"]

    def _set_queue_policy(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        props = made.resolver.resolve(props)
        for queue_url in props.get("Queues", []):
            self._aws("sqs").set_queue_attributes(
                QueueUrl=queue_url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )

    def _set_topic_policy(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        props = made.resolver.resolve(props)
        for topic in props.get("Topics", []):
            self._aws("sns").set_topic_attributes(
                TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
            )

    def _set_bucket_policy(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        props = made.resolver.resolve(props)
        self._aws("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"]))

    # ------------------------------------------------------------ names only

    def _name_function(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        function_name = props.get("FunctionName") or f"{self.stack_name}-{name}"
        made.resolver.refs[name] = function_name
        made.resolver.attributes[(name, "Arn")] = (
            f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{function_name}"
        )

    def _name_domain(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        made.resolver.refs[name] = str(made.resolver.resolve(props.get("Domain", name)))

    # ------------------------------------------------------------ Cognito

    def _create_user_pool(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        cognito = self._aws("cognito-idp")
        request = {"PoolName": props.get("UserPoolName", name), **made.resolver.resolve(props)}
        request.pop("DeletionProtection", None)  # reported as not emulated; keep the pool deletable
        pool = cognito.create_user_pool(**api_fields(cognito, "CreateUserPool", request))["UserPool"]
        made.user_pool_id = pool["Id"]
        made.resolver.refs[name] = pool["Id"]
        made.resolver.attributes[(name, "Arn")] = pool["Arn"]
        issuer = aws_issuer(self.region, pool["Id"])
        made.resolver.attributes[(name, "ProviderURL")] = issuer
        made.resolver.attributes[(name, "ProviderName")] = issuer.removeprefix("https://")

    def _create_resource_server(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        cognito = self._aws("cognito-idp")
        cognito.create_resource_server(
            **api_fields(cognito, "CreateResourceServer", made.resolver.resolve(props))
        )

    def _create_client(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        cognito = self._aws("cognito-idp")
        # CloudFormation names a client without ClientName itself; the logical id stands in.
        request = {"ClientName": name, **made.resolver.resolve(props)}
        _check_client_scopes(name, request, self._defined_scopes(made))
        check_callback_urls(name, request)
        client = cognito.create_user_pool_client(**api_fields(cognito, "CreateUserPoolClient", request))
        client = client["UserPoolClient"]
        made.resolver.refs[name] = client["ClientId"]
        made.resolver.attributes[(name, "ClientSecret")] = client.get("ClientSecret", "")
        made.resolver.attributes[(name, "Name")] = client["ClientName"]
        made.clients[name] = client

    def _defined_scopes(self, made: Provisioned) -> set[str]:
        if made.user_pool_id is None:
            return set()
        cognito = self._aws("cognito-idp")
        servers = cognito.list_resource_servers(UserPoolId=made.user_pool_id, MaxResults=50)[
            "ResourceServers"
        ]
        return {f"{s['Identifier']}/{scope['ScopeName']}" for s in servers for scope in s.get("Scopes", [])}

    def _create_group(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        cognito = self._aws("cognito-idp")
        request = {"GroupName": name, **made.resolver.resolve(props)}
        group = cognito.create_group(**api_fields(cognito, "CreateGroup", request))["Group"]
        made.resolver.refs[name] = group["GroupName"]

    def _create_users(self, made: Provisioned, users: list[SampleUser], source: str) -> list[SampleUser]:
        """People (local-cloud.toml's or --users FILE), made with the admin API: confirmed, in groups."""
        cognito = self._aws("cognito-idp")
        groups = {g["GroupName"] for g in cognito.list_groups(UserPoolId=made.user_pool_id)["Groups"]}
        for user in users:
            if _exists(cognito, made.user_pool_id, user.username):
                continue  # kept from the last run (state.py), with what changed since: a password...
            missing = sorted(set(user.groups) - groups)
            if missing:
                raise SystemExit(
                    f"{source}: {user.username} is in {missing}, which the template does not define "
                    f"(its groups: {sorted(groups)})"
                )
            attributes = dict(user.attributes)
            if "@" in user.username:  # signs in with an email: a verified one, as an admin would make it
                attributes.setdefault("email", user.username)
                attributes.setdefault("email_verified", "true")
            cognito.admin_create_user(
                UserPoolId=made.user_pool_id,
                Username=user.username,
                MessageAction="SUPPRESS",
                UserAttributes=[{"Name": k, "Value": v} for k, v in attributes.items()],
            )
            try:
                cognito.admin_set_user_password(
                    UserPoolId=made.user_pool_id,
                    Username=user.username,
                    Password=user.password,
                    Permanent=True,
                )
            except cognito.exceptions.InvalidPasswordException:
                raise SystemExit(
                    f"{source}: the password of {user.username} breaks the pool's password policy"
                ) from None
            for group in user.groups:
                cognito.admin_add_user_to_group(
                    UserPoolId=made.user_pool_id, Username=user.username, GroupName=group
                )
        return users

    # ------------------------------------------------------------ DynamoDB

    def _create_table(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        dynamodb = self._aws("dynamodb")
        request = table_request(made.resolver.resolve(props), default_name=f"{self.stack_name}-{name}")
        table = dynamodb.create_table(**request)["TableDescription"]
        made.resolver.refs[name] = table["TableName"]
        made.resolver.attributes[(name, "Arn")] = table["TableArn"]
        if "LatestStreamArn" in table:
            made.resolver.attributes[(name, "StreamArn")] = table["LatestStreamArn"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=table["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )

    def _seed(self, template: Template, made: Provisioned, path: Path) -> int:
        """Items into the template's first table, with BatchWriteItem."""
        tables = list(template.of_type("AWS::DynamoDB::Table"))
        if not tables:
            raise SystemExit("--seed needs a table in the template; it has none")
        items = seed_items(path)
        dynamodb = self._aws("dynamodb")
        table_name = made.resolver.refs[tables[0]]
        for start in range(0, len(items), _BATCH):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + _BATCH]]
            while requests:
                unprocessed = dynamodb.batch_write_item(RequestItems={table_name: requests})
                requests = unprocessed.get("UnprocessedItems", {}).get(table_name, [])
        return len(items)

    # ------------------------------------------------------------ API keys and usage plans

    def _create_api_key(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        apigateway = self._aws("apigateway")
        request = {"name": props.get("Name", name), "enabled": bool(props.get("Enabled", True))}
        if "Value" in props:
            request["value"] = made.resolver.resolve(props["Value"])
        key = apigateway.create_api_key(**request)
        made.resolver.refs[name] = key["id"]
        made.resolver.attributes[(name, "APIKeyId")] = key["id"]
        made.api_key_values[name] = key["value"]

    def _create_usage_plan(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        props = made.resolver.resolve(props)
        request: dict[str, Any] = {"name": props.get("UsagePlanName", name)}
        if props.get("ApiStages"):  # the stages whose methods take the plan's keys
            request["apiStages"] = [
                {"apiId": str(stage["ApiId"]), "stage": str(stage["Stage"])} for stage in props["ApiStages"]
            ]
        if "Throttle" in props:
            request["throttle"] = {
                "rateLimit": float(props["Throttle"].get("RateLimit", 10_000)),
                "burstLimit": int(props["Throttle"].get("BurstLimit", 5_000)),
            }
        if "Quota" in props:
            request["quota"] = {
                "limit": int(props["Quota"]["Limit"]),
                "period": props["Quota"].get("Period", "DAY"),
            }
        plan = self._aws("apigateway").create_usage_plan(**request)
        made.resolver.refs[name] = plan["id"]

    def _create_usage_plan_key(self, made: Provisioned, name: str, props: dict[str, Any]) -> None:
        props = made.resolver.resolve(props)
        self._aws("apigateway").create_usage_plan_key(
            usagePlanId=props["UsagePlanId"], keyId=props["KeyId"], keyType=props.get("KeyType", "API_KEY")
        )


# ---------------------------------------------------------------- outputs


def outputs(
    template: Template,
    made: Provisioned,
    *,
    base_url: str,
    region: str,
    api_urls: Mapping[str, str] | None = None,
    left_out: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The template's Outputs as a deploy would give them, with AWS endpoints pointed at `base_url`,
    and each HTTP API's at its own (`api_urls`: API id -> `http://127.0.0.1:PORT`). An output whose
    value is of a resource the local cloud does not make is left out, with why, in `left_out` (given):
    a value made up would be read as a real one.

    The issuer stays AWS's: it names the pool, nothing fetches it (docs/aws-behaviour.md §4).
    """
    resolver = made.resolver
    issuer = aws_issuer(region, made.user_pool_id) if made.user_pool_id else None
    domains = [resolver.refs[d] for d in template.of_type("AWS::Cognito::UserPoolDomain")]
    found: dict[str, Any] = {}
    for name, output in template.outputs.items():
        value = output["Value"]
        try:
            # LanguageExtensions can leave a Fn::Sub as a plain string with ${...} in it.
            resolved = str(resolver.sub(value) if isinstance(value, str) else resolver.resolve(value))
        except Unresolvable as error:
            if left_out is None:
                raise
            left_out[name] = str(error)
            continue
        found[name] = resolved if resolved == issuer else localized(resolved, base_url, domains, api_urls)
    for name, value in made.api_key_values.items():
        found["ApiKey" if len(made.api_key_values) == 1 else f"{name}Value"] = value
    found["Region"] = region
    found["AwsEndpointUrl"] = base_url
    found["Clients"] = {
        name: {
            "ClientId": c["ClientId"],
            "ClientSecret": c.get("ClientSecret"),
            "AllowedScopes": c.get("AllowedOAuthScopes", []),
            "AllowedOAuthFlows": c.get("AllowedOAuthFlows", []),
            "ExplicitAuthFlows": c.get("ExplicitAuthFlows", []),
            "CallbackURLs": c.get("CallbackURLs", []),
        }
        for name, c in made.clients.items()
    }
    found["Users"] = [user.output() for user in made.users]
    return found


def localized(
    value: str, base_url: str, domains: list[str], api_urls: Mapping[str, str] | None = None
) -> str:
    """AWS endpoint URLs in an output, pointed at the local server instead (an HTTP API's at its own)."""
    for api_id, url in (api_urls or {}).items():
        value = re.sub(rf"https://{re.escape(api_id)}\.execute-api\.[\w-]+\.amazonaws\.com", url, value)
    hosts = [
        r"[\w-]+\.execute-api\.[\w-]+\.amazonaws\.com",
        r"cognito-idp\.[\w-]+\.amazonaws\.com",
        r"[\w-]+\.auth\.[\w-]+\.amazoncognito\.com",
        *(re.escape(d) for d in domains),
    ]
    return re.sub(rf"https://(?:{'|'.join(hosts)})", base_url, value)


# ---------------------------------------------------------------- helpers

_SUBSCRIPTION_ATTRIBUTES = {
    "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy", "DeliveryPolicy",
    "ReplayPolicy", "SubscriptionRoleArn",
}  # fmt: skip
_PASSWORD_OPTIONS = {
    "ExcludeCharacters", "ExcludeLowercase", "ExcludeNumbers", "ExcludePunctuation", "ExcludeUppercase",
    "IncludeSpace", "PasswordLength", "RequireEachIncludedType",
}  # fmt: skip
# S3's notification kinds: CloudFormation's name, its target's key, and the API's two names.
_NOTIFICATION_KINDS = (
    ("LambdaConfigurations", "Function", "LambdaFunctionConfigurations", "LambdaFunctionArn"),
    ("QueueConfigurations", "Queue", "QueueConfigurations", "QueueArn"),
    ("TopicConfigurations", "Topic", "TopicConfigurations", "TopicArn"),
)


def bucket_notifications(configuration: dict[str, Any]) -> dict[str, Any]:
    """An AWS::S3::Bucket's NotificationConfiguration in PutBucketNotificationConfiguration's shape:
    one event per entry (`Event`) becomes a list (`Events`), `Filter.S3Key.Rules` `Filter.Key.FilterRules`."""
    request: dict[str, Any] = {}
    for template_key, target, api_key, arn_key in _NOTIFICATION_KINDS:
        for entry in configuration.get(template_key, []):
            item: dict[str, Any] = {"Events": [entry["Event"]], arn_key: entry[target]}
            rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules")
            if rules:
                item["Filter"] = {
                    "Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}
                }
            request.setdefault(api_key, []).append(item)
    if str(configuration.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled", "")).lower() == "true":
        request["EventBridgeConfiguration"] = {}
    return request


def generated_secret(secrets: Any, rules: dict[str, Any]) -> str:
    """The secret CloudFormation generates: a password by GenerateSecretString's rules (32 characters
    by default), alone or under GenerateStringKey in SecretStringTemplate's JSON."""
    options = {k: v for k, v in rules.items() if k in _PASSWORD_OPTIONS}
    if "PasswordLength" in options:
        options["PasswordLength"] = int(options["PasswordLength"])
    password = secrets.get_random_password(**options)["RandomPassword"]
    if "SecretStringTemplate" in rules and "GenerateStringKey" in rules:
        document = json.loads(rules["SecretStringTemplate"])
        document[rules["GenerateStringKey"]] = password
        return json.dumps(document)
    return str(password)


def api_fields(client: Any, operation: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The template properties that are also parameters of the AWS API call (same names in CloudFormation)."""
    members = client.meta.service_model.operation_model(operation).input_shape.members
    return {k: as_shape(v, members[k]) for k, v in properties.items() if k in members}


def as_shape(value: Any, shape: Any) -> Any:
    """A template value in the type the API takes: CloudFormation converts `'true'` to a Boolean
    property and `'5'` to an Integer one, as its resource specification types them (YAML templates
    often quote them); what does not convert is left for the API's own validation."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: as_shape(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [as_shape(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: as_shape(v, shape.value) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind in ("integer", "long") and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _exists(cognito: Any, user_pool_id: str | None, username: str) -> bool:
    try:
        cognito.admin_get_user(UserPoolId=user_pool_id, Username=username)
    except cognito.exceptions.UserNotFoundException:
        return False
    return True


def _check_client_scopes(name: str, client: dict[str, Any], defined: set[str]) -> None:
    """Cognito refuses a client naming a scope no resource server defines; moto does not, so we do."""
    unknown = set(client.get("AllowedOAuthScopes", [])) - defined - STANDARD_SCOPES
    if unknown:
        raise SystemExit(
            f"{name}: AllowedOAuthScopes names scopes no resource server defines: {sorted(unknown)}"
        )


def check_callback_urls(name: str, client: dict[str, Any]) -> None:
    """Cognito takes plain http callback URLs on localhost only (docs/aws-behaviour.md §12); moto takes
    any, so we refuse them here, as a deploy would fail."""
    for url in client.get("CallbackURLs") or []:
        parts = urlsplit(url)
        if parts.scheme == "http" and parts.hostname != "localhost":
            raise SystemExit(
                f"{name}: CallbackURLs has {url}: Cognito takes http on localhost only (https elsewhere)"
            )


def table_request(props: dict[str, Any], default_name: str) -> dict[str, Any]:
    """CreateTable parameters from AWS::DynamoDB::Table properties (a few names differ)."""
    request: dict[str, Any] = {
        "TableName": props.get("TableName", default_name),
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    for same in ("ProvisionedThroughput", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "TableClass"):
        if same in props:
            request[same] = props[same]
    if "StreamSpecification" in props:
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return request


_TYPE_TAGS = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"}


def seed_items(path: Path) -> list[dict[str, Any]]:
    """Items to preload, as DynamoDB wire items.

    The file holds one item or a JSON list of items, each either plain JSON as the handlers store it
    (`{"id": "...", "price": 12.5}`) or DynamoDB JSON as `aws dynamodb put-item` takes it
    (`{"id": {"S": "..."}}`, e.g. events/seed_item.json).
    """
    data = json.loads(path.read_text(), parse_float=Decimal)
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(i, dict) for i in items):
        raise SystemExit(f"{path}: expected an item (JSON object) or a list of items")
    serializer = TypeSerializer()
    return [item if _is_dynamodb_json(item) else dict(serializer.serialize(item)["M"]) for item in items]


def _is_dynamodb_json(item: dict[str, Any]) -> bool:
    return all(isinstance(v, dict) and len(v) == 1 and next(iter(v)) in _TYPE_TAGS for v in item.values())
