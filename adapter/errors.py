"""One error vocabulary for every edge.

Each error carries a stable code (``DC-nnnn``), an HTTP status, a FHIR OperationOutcome issue type and
an HL7 v2 error code (table 0357) with an optional ERR-2 location. HTTP renders an OperationOutcome,
MLLP renders AE/AR with an ERR segment. Messages never carry personal data: callers mask before raising.

Code ranges: 1xxx request shape, 2xxx security, 3xxx resources and storage, 4xxx HL7 v2,
5xxx external platforms, 6xxx nucleic-acid sampling, 9xxx internal.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DualcodeError(Exception):
    """Root of every error the service reports on purpose."""

    code: ClassVar[str] = "DC-9000"
    http_status: ClassVar[int] = 500
    issue_type: ClassVar[str] = "exception"
    severity: ClassVar[str] = "error"
    hl7_code: ClassVar[str] = "207"  # application internal error
    hl7_ack: ClassVar[str] = "AE"  # AE = application error, AR = rejected
    default_message: ClassVar[str] = "internal error"

    def __init__(
        self,
        message: str | None = None,
        *,
        expression: tuple[str, ...] = (),
        hl7_location: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.expression = expression
        self.hl7_location = hl7_location
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# --- 1xxx: the request itself ----------------------------------------------------------------------


class MalformedBody(DualcodeError):
    code, http_status, issue_type, hl7_code = "DC-1001", 400, "structure", "102"
    default_message = "the body is not well-formed JSON"


class UnsupportedMediaType(DualcodeError):
    code, http_status, issue_type = "DC-1002", 415, "not-supported"
    default_message = "unsupported content type; send application/fhir+json or application/json"


class BodyTooLarge(DualcodeError):
    code, http_status, issue_type = "DC-1003", 413, "too-long"
    default_message = "the request body is larger than the configured limit"


class InvalidResource(DualcodeError):
    code, http_status, issue_type, hl7_code = "DC-1004", 422, "invalid", "102"
    default_message = "the resource is not valid FHIR R4"


class InvalidId(DualcodeError):
    code, http_status, issue_type = "DC-1005", 400, "value"
    default_message = "the id is not a valid FHIR id ([A-Za-z0-9-.]{1,64})"


class UnknownResourceType(DualcodeError):
    code, http_status, issue_type = "DC-1006", 404, "not-supported"
    default_message = "this server does not support that resource type"


class InvalidSearch(DualcodeError):
    code, http_status, issue_type = "DC-1007", 400, "value"
    default_message = "unsupported or malformed search parameter"


class NotAcceptable(DualcodeError):
    code, http_status, issue_type = "DC-1008", 406, "not-supported"
    default_message = "only JSON is served: ask for application/fhir+json or _format=json"


class InvalidRequest(DualcodeError):
    code, http_status, issue_type = "DC-1009", 400, "invalid"
    default_message = "the request is not valid"


class MethodNotAllowed(DualcodeError):
    code, http_status, issue_type = "DC-1010", 405, "not-supported"
    default_message = "this interaction is not supported on this resource"


class RouteNotFound(DualcodeError):
    code, http_status, issue_type = "DC-1011", 404, "not-found"
    default_message = "no such endpoint"


# --- 2xxx: security --------------------------------------------------------------------------------


class MissingToken(DualcodeError):
    code, http_status, issue_type, hl7_code = "DC-2001", 401, "login", "207"
    default_message = "a bearer token is required"
    oauth_error = "invalid_request"


class InvalidToken(DualcodeError):
    code, http_status, issue_type = "DC-2002", 401, "login"
    default_message = "the bearer token is invalid or expired"
    oauth_error = "invalid_token"


class InsufficientScope(DualcodeError):
    code, http_status, issue_type = "DC-2003", 403, "forbidden"
    default_message = "the token does not carry the scope this request needs"
    oauth_error = "insufficient_scope"


class InvalidClient(DualcodeError):
    # One message for unknown client and wrong secret: never hint which part was wrong.
    code, http_status, issue_type = "DC-2004", 401, "login"
    default_message = "client authentication failed"
    oauth_error = "invalid_client"


class UnsupportedGrant(DualcodeError):
    code, http_status, issue_type = "DC-2005", 400, "not-supported"
    default_message = "only grant_type=client_credentials is supported"
    oauth_error = "unsupported_grant_type"


class InvalidScopeRequest(DualcodeError):
    code, http_status, issue_type = "DC-2006", 400, "value"
    default_message = "the requested scope is not granted to this client"
    oauth_error = "invalid_scope"


class InvalidTokenRequest(DualcodeError):
    code, http_status, issue_type = "DC-2008", 400, "invalid"
    default_message = "the token request is not valid"
    oauth_error = "invalid_request"


class RateLimited(DualcodeError):
    code, http_status, issue_type = "DC-2007", 429, "throttled"
    default_message = "too many requests; retry later"


# --- 3xxx: resources and storage -------------------------------------------------------------------


class ResourceNotFound(DualcodeError):
    code, http_status, issue_type, hl7_code = "DC-3001", 404, "not-found", "204"
    default_message = "resource not found"


class ResourceGone(DualcodeError):
    code, http_status, issue_type = "DC-3002", 410, "deleted"
    default_message = "resource was deleted"


class VersionConflict(DualcodeError):
    code, http_status, issue_type, hl7_code = "DC-3003", 412, "conflict", "206"
    default_message = "the resource has changed since the version given in If-Match"


class DuplicateKey(DualcodeError):
    code, http_status, issue_type, hl7_code = "DC-3004", 409, "duplicate", "205"
    default_message = "a record with this key already exists"


class MultipleMatches(DualcodeError):
    code, http_status, issue_type = "DC-3005", 412, "multiple-matches"
    default_message = "the condition matches more than one resource"


# --- 4xxx: HL7 v2 -----------------------------------------------------------------------------------


class NoDestination(DualcodeError):
    code, http_status, issue_type, hl7_code, hl7_ack = "DC-4001", 400, "not-supported", "200", "AR"
    default_message = "no destination for this message type"


class UnparseableMessage(DualcodeError):
    code, http_status, issue_type, hl7_code, hl7_ack = "DC-4002", 400, "structure", "100", "AR"
    default_message = "the message could not be parsed"


class FrameTooLarge(DualcodeError):
    code, http_status, issue_type, hl7_code, hl7_ack = "DC-4003", 413, "too-long", "100", "AR"
    default_message = "the frame is larger than the configured maximum"


class UndecodableText(DualcodeError):
    code, http_status, issue_type, hl7_code, hl7_ack = "DC-4004", 400, "structure", "102", "AE"
    default_message = "the message text cannot be decoded in the declared or configured character set"


class SenderNotAllowed(DualcodeError):
    code, http_status, issue_type, hl7_code, hl7_ack = "DC-4005", 403, "forbidden", "207", "AR"
    default_message = "this sender is not allowed on this connection"


class UnsupportedVersion(DualcodeError):
    code, http_status, issue_type, hl7_code, hl7_ack = "DC-4006", 400, "not-supported", "203", "AR"
    default_message = "unsupported HL7 version; v2.3.1 through v2.5.1 are accepted"


class RequiredFieldMissing(DualcodeError):
    code, http_status, issue_type, hl7_code, hl7_ack = "DC-4007", 400, "required", "101", "AR"
    default_message = "a field the message type requires is missing"


class UnknownKeyIdentifier(DualcodeError):
    code, http_status, issue_type, hl7_code, hl7_ack = "DC-4008", 404, "not-found", "204", "AE"
    default_message = "an identifier or its assigning authority is not known here"


# --- 5xxx: external platforms ---------------------------------------------------------------------


class UpstreamUnavailable(DualcodeError):
    code, http_status, issue_type = "DC-5001", 503, "transient"
    default_message = "an external platform did not answer in time; retry later"


# --- 51xx: cards and codes -------------------------------------------------------------------------


class CardCodeUnrecognised(DualcodeError):
    code, http_status, issue_type = "DC-5101", 400, "value"
    default_message = "the code is not a card or code this service recognises"


class CardCodeExpired(DualcodeError):
    code, http_status, issue_type = "DC-5102", 400, "expired"
    default_message = "the dynamic code has expired; ask the person to refresh it"


class CardCodeReplayed(DualcodeError):
    code, http_status, issue_type = "DC-5103", 409, "conflict"
    default_message = "the dynamic code was already used; ask the person to refresh it"


class CardCodeForged(DualcodeError):
    code, http_status, issue_type = "DC-5104", 400, "security"
    default_message = "the code failed the platform's integrity check"


class CardSuspended(DualcodeError):
    code, http_status, issue_type = "DC-5105", 403, "suspended"
    default_message = "the card is suspended"


class CardUseNotPermitted(DualcodeError):
    code, http_status, issue_type = "DC-5106", 403, "forbidden"
    default_message = "the card does not permit this use"


class CardHolderUnknown(DualcodeError):
    code, http_status, issue_type = "DC-5107", 404, "not-found"
    default_message = "the platform does not know this person"


class InvalidCardRead(DualcodeError):
    code, http_status, issue_type = "DC-5108", 422, "invalid"
    default_message = "the card read does not name a valid person"


class PlatformRejected(DualcodeError):
    code, http_status, issue_type = "DC-5109", 502, "exception"
    default_message = "the card platform refused the request"


class InvalidIdentityDocument(DualcodeError):
    code, http_status, issue_type = "DC-5110", 422, "value"
    default_message = "the identity document number is not valid"


# --- 6xxx: nucleic-acid sampling ----------------------------------------------------------------


class InvalidTubeBarcode(DualcodeError):
    code, http_status, issue_type = "DC-6001", 400, "value"
    default_message = "the tube barcode does not have the configured format"


class TubeFull(DualcodeError):
    code, http_status, issue_type = "DC-6002", 409, "conflict"
    default_message = "the tube is full; close it and scan a new tube"


class TubeClosed(DualcodeError):
    code, http_status, issue_type = "DC-6003", 409, "conflict"
    default_message = "the tube is closed; scan a new tube"


class PoolSizeMismatch(DualcodeError):
    code, http_status, issue_type = "DC-6004", 409, "conflict"
    default_message = "the tube was opened with another pool size; the pool size of a tube cannot change"


class TubeNotFound(DualcodeError):
    code, http_status, issue_type = "DC-6005", 404, "not-found"
    default_message = "no such tube"


class TubeAtAnotherPoint(DualcodeError):
    code, http_status, issue_type = "DC-6006", 409, "conflict"
    default_message = "the tube was opened at another sampling point"


class InvalidBatch(DualcodeError):
    code, http_status, issue_type = "DC-6007", 400, "structure"
    default_message = "the batch is not NDJSON of registration lines"


class TubeNotClosed(DualcodeError):
    code, http_status, issue_type = "DC-6008", 409, "conflict"
    default_message = "a result can only be recorded for a closed tube"


# --- 9xxx: internal ---------------------------------------------------------------------------------


class InternalError(DualcodeError):
    code = "DC-9000"
    default_message = "internal error"


class ServiceUnavailable(DualcodeError):
    code, http_status, issue_type = "DC-9001", 503, "transient"
    default_message = "a backing service is unavailable; retry later"


def all_error_classes() -> list[type[DualcodeError]]:
    """Every concrete error, for documentation and for the uniqueness test of codes."""
    seen: list[type[DualcodeError]] = []
    stack: list[type[DualcodeError]] = [DualcodeError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted(seen, key=lambda c: c.code)


def operation_outcome(error: DualcodeError, *, request_id: str | None = None) -> dict[str, Any]:
    """Render an error as a FHIR R4 OperationOutcome (JSON dict)."""
    details: dict[str, Any] = {
        "coding": [{"system": "urn:dualcode:error", "code": error.code}],
        "text": error.message,
    }
    oauth = getattr(error, "oauth_error", None)
    if oauth:
        details["coding"].append({"system": "urn:ietf:rfc:6749", "code": oauth})
    issue: dict[str, Any] = {
        "severity": error.severity,
        "code": error.issue_type,
        "details": details,
        "diagnostics": f"{error.code}: {error.message}",
    }
    if error.expression:
        issue["expression"] = list(error.expression)
    outcome: dict[str, Any] = {"resourceType": "OperationOutcome", "issue": [issue]}
    if request_id:
        outcome["id"] = request_id
    return outcome


def internal_error_outcome(request_id: str) -> dict[str, Any]:
    """What any unexpected exception becomes: no internal detail, only the request id to quote."""
    error = InternalError(f"internal error; quote request id {request_id}")
    return operation_outcome(error, request_id=request_id)
