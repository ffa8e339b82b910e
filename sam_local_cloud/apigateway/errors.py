"""What API Gateway answers itself, as typed errors (docs/aws-behaviour.md §2).

Every step of the gateway raises one of these where a request stops; `Gateway` turns them into
responses in one place. Each class carries its gateway response type (which a template can customise
with `GatewayResponses`), its status, its message and its `x-amzn-ErrorType`.
"""

from __future__ import annotations

import base64
import hashlib


class GatewayError(Exception):
    response_type = "DEFAULT_4XX"
    status = 400
    message: str | None = "Bad Request"
    error_type = "BadRequestException"
    body_key = "message"  # the key of the default body, `{"message": ...}` but for ACCESS_DENIED
    # False where the request never reached an API of this template, so its gateway responses do not apply.
    api_known = True

    def __init__(self, message: str | None = None):
        if message is not None:
            self.message = message
        super().__init__(self.message or "")


class BadRequestParameters(GatewayError):
    """A required header or query string missing or blank (the method's request validator)."""

    response_type = "BAD_REQUEST_PARAMETERS"
    status = 400
    error_type = "BadRequestException"

    @property
    def validation_error(self) -> str:
        return self.message or ""


class BadRequestBody(GatewayError):
    """The body does not match the method's model for its content type (the request validator).

    The caller reads only "Invalid request body"; what failed is `$context.error.validationErrorString`.
    """

    response_type = "BAD_REQUEST_BODY"
    status = 400
    message = "Invalid request body"
    error_type = "BadRequestException"

    def __init__(self, validation_error: str):
        super().__init__()
        self.validation_error = validation_error


class MissingAuthenticationToken(GatewayError):
    """A path or method the API does not define, asked without an Authorization header."""

    response_type = "MISSING_AUTHENTICATION_TOKEN"
    status = 403
    message = "Missing Authentication Token"
    error_type = "MissingAuthenticationTokenException"


class IncompleteSignature(GatewayError):
    """A path or method the API does not define, asked with a (non-SigV4) Authorization header.

    API Gateway reads the header as a SigV4 signature and names it only by its hash.
    """

    response_type = "INVALID_SIGNATURE"
    status = 403
    error_type = "IncompleteSignatureException"

    def __init__(self, authorization: str):
        digest = base64.b64encode(hashlib.sha256(authorization.encode()).digest()).decode()
        super().__init__(
            "Invalid key=value pair (missing equal-sign) in Authorization header "
            f"(hashed with SHA-256 and encoded with Base64): '{digest}'."
        )


class UnknownStage(GatewayError):
    response_type = "DEFAULT_4XX"
    status = 403
    message = "Forbidden"
    error_type = "ForbiddenException"
    api_known = False


class Unauthorized(GatewayError):
    """The Cognito authorizer said no (a missing scope included: 401, not 403)."""

    response_type = "UNAUTHORIZED"
    status = 401
    message = "Unauthorized"
    error_type = "UnauthorizedException"


class ExpiredToken(Unauthorized):
    message = "The incoming token has expired"


class AccessDenied(GatewayError):
    """A Lambda authorizer's policy denies the method, explicitly or by allowing it nowhere
    (docs/aws-behaviour.md §11.1). The default body's key is `Message`, capitalised."""

    response_type = "ACCESS_DENIED"
    status = 403
    message = "User is not authorized to access this resource"
    error_type = "AccessDeniedException"
    body_key = "Message"

    def __init__(self, *, explicit: bool):
        super().__init__(f"{self.message} with an explicit deny" if explicit else None)


class AuthorizerConfigurationError(GatewayError):
    """A Lambda authorizer failed, timed out or gave an answer API Gateway cannot read: 500 with a null
    message (docs/aws-behaviour.md §11.1)."""

    response_type = "AUTHORIZER_CONFIGURATION_ERROR"
    status = 500
    message = None
    error_type = "AuthorizerConfigurationException"


class InvalidApiKey(GatewayError):
    response_type = "INVALID_API_KEY"
    status = 403
    message = "Forbidden"
    error_type = "ForbiddenException"


class RequestTooLarge(GatewayError):
    response_type = "REQUEST_TOO_LARGE"
    status = 413
    message = "Request Too Long"
    error_type = "RequestTooLargeException"


class Throttled(GatewayError):
    response_type = "THROTTLED"
    status = 429
    message = "Too Many Requests"
    error_type = "TooManyRequestsException"


class QuotaExceeded(GatewayError):
    response_type = "QUOTA_EXCEEDED"
    status = 429
    message = "Limit Exceeded"
    error_type = "LimitExceededException"


class IntegrationFailure(GatewayError):
    """The function raised, timed out, returned a malformed or too large response (502)."""

    response_type = "DEFAULT_5XX"
    status = 502
    message = "Internal server error"
    error_type = "InternalServerErrorException"


class LambdaThrottled(GatewayError):
    """Lambda throttled the function: every execution environment it may have is busy.

    API Gateway does not pass Lambda's 429 on. Recorded as 500 and reported by some as 502: unsettled,
    and this class is where the local cloud picks 500 (docs/aws-behaviour.md §7).
    """

    response_type = "INTEGRATION_FAILURE"  # falls back to DEFAULT_5XX, as API Gateway's types do
    status = 500
    message = "Internal server error"
    error_type = "InternalServerErrorException"


class IntegrationTimeout(GatewayError):
    response_type = "INTEGRATION_TIMEOUT"
    status = 504
    message = "Endpoint request timed out"
    error_type = "InternalServerErrorException"
