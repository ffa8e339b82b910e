"""The HTTP API's CORS, throttling and access logs, each as on the REST API: the same origin, request
headers (less X-Api-Key, which HTTP APIs do not have) and exposed headers; the same limits; access
logs to a log group of its own. The gateway answers preflight itself and ignores the functions' CORS
headers, so what it exposes must be what the functions expose."""

from __future__ import annotations

from typing import Any

from product_api.cors import EXPOSE_HEADERS
from sam_local_cloud.cloudformation.template import Template, openapi_body
from tests.unit.template.support import broken, http_api, mentions, references

REST_ONLY_HEADERS = {"x-api-key"}  # API keys exist on REST APIs only


def _rest_preflight(template: Template) -> dict[str, str]:
    """The REST API's CORS preflight answer (the same on every path: test_cors.py checks it)."""
    methods = next(m for m in openapi_body(template)["paths"].values() if "options" in m)
    integration = methods["options"]["x-amazon-apigateway-integration"]
    params = integration["responses"]["default"]["responseParameters"]
    return {k.removeprefix("method.response.header."): v.strip("'") for k, v in params.items()}


def _names(values: Any) -> set[str]:
    return {str(v).strip().lower() for v in values}


def cors_problems(template: Template) -> list[str]:
    _, body = http_api(template)
    cors = body.get("x-amazon-apigateway-cors")
    if not cors:
        return ["no CorsConfiguration: browsers on another origin cannot call the HTTP API"]
    rest = _rest_preflight(template)
    problems = []
    if cors.get("allowOrigins") != [rest["Access-Control-Allow-Origin"]]:
        origin = rest["Access-Control-Allow-Origin"]
        problems.append(f"allowOrigins {cors.get('allowOrigins')} are not REST's {origin}")
    wanted_headers = _names(rest["Access-Control-Allow-Headers"].split(",")) - REST_ONLY_HEADERS
    if _names(cors.get("allowHeaders", [])) != wanted_headers:
        problems.append(f"allowHeaders {cors.get('allowHeaders')} are not REST's {sorted(wanted_headers)}")
    if _names(cors.get("allowMethods", [])) != _names(rest["Access-Control-Allow-Methods"].split(",")):
        problems.append(f"allowMethods {cors.get('allowMethods')} are not REST's")
    if str(cors.get("maxAge")) != rest.get("Access-Control-Max-Age"):
        problems.append(f"maxAge {cors.get('maxAge')} is not REST's {rest.get('Access-Control-Max-Age')}")
    exposed = _names(EXPOSE_HEADERS)
    if _names(cors.get("exposeHeaders", [])) != exposed:
        problems.append(f"exposeHeaders {cors.get('exposeHeaders')} are not the functions' {sorted(exposed)}")
    return problems


def _stage(template: Template) -> dict[str, Any]:
    api, _ = http_api(template)
    (stage,) = [
        s["Properties"]
        for s in template.of_type("AWS::ApiGatewayV2::Stage").values()
        if api in references(s["Properties"]["ApiId"])
    ]
    return stage


def throttling_problems(template: Template) -> list[str]:
    """The stage's default route limits are the REST stage's."""
    _, rest_stage = template.the_one("AWS::ApiGateway::Stage")
    (rest,) = [s for s in rest_stage["Properties"].get("MethodSettings", []) if "ThrottlingRateLimit" in s]
    settings = _stage(template).get("DefaultRouteSettings", {})
    problems = []
    for limit in ("ThrottlingBurstLimit", "ThrottlingRateLimit"):
        if settings.get(limit) != rest[limit]:
            problems.append(f"{limit} {settings.get(limit)} is not the REST stage's {rest[limit]}")
    return problems


def stage_problems(template: Template) -> list[str]:
    """The $default stage (no stage in the URL), auto-deployed, logging to a log group of its own."""
    stage = _stage(template)
    problems = []
    if stage.get("StageName") != "$default":
        problems.append(f"stage {stage.get('StageName')!r}, not $default: HttpApiUrl would miss it")
    logs = stage.get("AccessLogSettings") or {}
    groups = references(logs.get("DestinationArn")) & set(template.of_type("AWS::Logs::LogGroup"))
    _, rest_stage = template.the_one("AWS::ApiGateway::Stage")
    rest_groups = references(rest_stage["Properties"].get("AccessLogSetting", {}).get("DestinationArn"))
    if len(groups) != 1 or groups & rest_groups:
        problems.append(f"access logs go to {sorted(groups)}, not to a log group of the HTTP API's own")
    elif "RetentionInDays" not in template.resources[groups.pop()]["Properties"]:
        problems.append("the access log group keeps its logs forever")
    if "$context.requestId" not in logs.get("Format", ""):
        problems.append("access log format has no $context.requestId")
    return problems


def test_http_api_cors_is_rest_cors_less_api_keys(transformed):
    assert cors_problems(transformed) == []


def test_http_api_throttles_as_the_rest_stage(transformed):
    assert throttling_problems(transformed) == []


def test_http_api_has_a_default_stage_with_access_logs_of_its_own(transformed):
    assert stage_problems(transformed) == []


# ---------------------------------------------------------------- the checks catch drift


def _http_api_props(source: dict[str, Any]) -> dict[str, Any]:
    return source["Resources"]["ProductsHttpApi"]["Properties"]


def test_check_catches_cors_that_forgets_a_header_or_exposes_nothing():
    def drift(source):
        cors = _http_api_props(source)["CorsConfiguration"]
        cors["AllowHeaders"].remove("Idempotency-Key")
        del cors["ExposeHeaders"]

    problems = cors_problems(broken(drift))

    assert mentions(problems, "allowHeaders", "idempotency-key")
    assert mentions(problems, "exposeHeaders", "idempotent-replayed")


def test_check_catches_missing_cors():
    def drop(source):
        del _http_api_props(source)["CorsConfiguration"]

    assert mentions(cors_problems(broken(drop)), "no CorsConfiguration")


def test_check_catches_other_throttling():
    def faster(source):
        _http_api_props(source)["DefaultRouteSettings"]["ThrottlingRateLimit"] = 5000

    assert mentions(throttling_problems(broken(faster)), "ThrottlingRateLimit 5000")


def test_check_catches_missing_access_logs_and_a_named_stage():
    def drift(source):
        props = _http_api_props(source)
        del props["AccessLogSettings"]
        props["StageName"] = "v1"

    problems = stage_problems(broken(drift))

    assert mentions(problems, "not $default")
    assert mentions(problems, "access logs go to []")


def test_check_catches_access_logs_shared_with_rest():
    def shared(source):
        logs = _http_api_props(source)["AccessLogSettings"]
        logs["DestinationArn"] = {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}

    assert mentions(stage_problems(broken(shared)), "ApiAccessLogGroup")
