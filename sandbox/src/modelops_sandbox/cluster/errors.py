"""Kubernetes API errors as the emulator answers them: a ``v1/Status`` with the conventional reason.

All of them are instances of kmock's :class:`kmock.KubernetesError`, so kmock's error rendering and any
user code catching kmock errors keep working. Messages follow the wording of the real API server where
clients (kubectl, client-go, kopf) show or parse them.
"""

from __future__ import annotations

from typing import Any

import attrs
import kmock


def api_error(
    status: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> kmock.KubernetesError:
    return kmock.KubernetesError(status=status, reason=reason, message=message, details=details or {})


def _details(group: str, plural: str, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": plural}
    if group:
        details["group"] = group
    if name is not None:
        details["name"] = name
    return details


def qualified(group: str, plural: str) -> str:
    """The ``plural.group`` notation of a resource as used in server messages (core: just ``plural``)."""
    return f"{plural}.{group}" if group else plural


def not_found(group: str, plural: str, name: str) -> kmock.KubernetesError:
    return api_error(
        404, "NotFound", f'{qualified(group, plural)} "{name}" not found', _details(group, plural, name)
    )


PAGE_NOT_FOUND = "404 page not found\n"


@attrs.frozen
class PageNotFound(kmock.KubernetesError):
    """A URL that serves nothing (an unknown group, version or resource): a real server's HTTP mux answers it
    with the plain text :data:`PAGE_NOT_FOUND`, not with a ``v1/Status``."""

    status: int = 404
    reason: str | None = "NotFound"
    message: str | None = "the server could not find the requested resource"


def resource_not_found() -> kmock.KubernetesError:
    return PageNotFound()


def already_exists(group: str, plural: str, name: str) -> kmock.KubernetesError:
    return api_error(
        409,
        "AlreadyExists",
        f'{qualified(group, plural)} "{name}" already exists',
        _details(group, plural, name),
    )


def conflict(group: str, plural: str, name: str, why: str | None = None) -> kmock.KubernetesError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return api_error(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(group, plural)} "{name}": {why}',
        _details(group, plural, name),
    )


def forbidden(
    group: str, plural: str, name: str, why: str, causes: list[dict[str, str]] | None = None
) -> kmock.KubernetesError:
    details = _details(group, plural, name)
    if causes:
        details["causes"] = causes
    return api_error(403, "Forbidden", f'{qualified(group, plural)} "{name}" is forbidden: {why}', details)


def invalid_resource(group: str, plural: str, name: str, cause: str) -> kmock.KubernetesError:
    """A 422 worded with the resource (``widgets.example.com "w1" is invalid``), as some server checks are."""
    details = dict(_details(group, plural, name), causes=[{"message": cause}])
    return api_error(422, "Invalid", f'{qualified(group, plural)} "{name}" is invalid: {cause}', details)


def internal(message: str) -> kmock.KubernetesError:
    """A 500 as the server reports some refusals of its storage layer: a message, no reason."""
    return api_error(500, "", message)


# The reasons of field errors, by the start of their message (as apimachinery's field.ErrorType words them).
_CAUSE_REASONS = {
    "Required value": "FieldValueRequired",
    "Invalid value": "FieldValueInvalid",
    "Forbidden": "FieldValueForbidden",
    "Unsupported value": "FieldValueNotSupported",
    "Duplicate value": "FieldValueDuplicate",
}


def _cause(error: str) -> dict[str, str]:
    """A field error (``metadata.name: Required value: ...``) as a Status cause: reason, message, field."""
    field, _, message = error.partition(": ")
    reason = next(
        (r for start, r in _CAUSE_REASONS.items() if message.startswith(start)), "FieldValueInvalid"
    )
    return {"reason": reason, "message": message, "field": field}


def invalid(kind: str, group: str, name: str, cause: str) -> kmock.KubernetesError:
    qualified_kind = f"{kind}.{group}" if group else kind
    details: dict[str, Any] = {"kind": kind, "causes": [_cause(cause)]}
    if group:
        details["group"] = group
    if name:
        details["name"] = name
    return api_error(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {cause}', details)


def precondition_failed(
    kind: str, group: str, name: str, field: str, expected: str, actual: str
) -> kmock.KubernetesError:
    """A delete whose preconditions (``uid``, ``resourceVersion``) do not hold: 409, worded like the server."""
    qualified_kind = f"{kind}.{group}" if group else kind
    consequence = "deleted and then recreated" if field == "UID" else "modified"
    why = (
        f"the {field} in the precondition ({expected}) does not match the {field} in record ({actual}). "
        f"The object might have been {consequence}"
    )
    details = {"name": name, "kind": kind} | ({"group": group} if group else {})
    return api_error(
        409, "Conflict", f'Operation cannot be fulfilled on {qualified_kind} "{name}": {why}', details
    )


def unprocessable() -> kmock.KubernetesError:
    """What a JSON patch that cannot be applied (a failed ``test``, a missing path) answers: a real server says
    no more than this."""
    return api_error(422, "Invalid", "the server rejected our request due to an error in our request")


def bad_request(message: str) -> kmock.KubernetesError:
    return api_error(400, "BadRequest", message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> kmock.KubernetesError:
    return api_error(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> kmock.KubernetesError:
    return api_error(
        415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {content_type}"
    )


def unsupported_patch_type(accepted: list[str]) -> kmock.KubernetesError:
    return api_error(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def expired(requested: int, oldest: int) -> kmock.KubernetesError:
    return api_error(410, "Expired", f"too old resource version: {requested} ({oldest})")


def status_body(error: kmock.KubernetesError) -> dict[str, Any]:
    """Render an error as a ``v1/Status`` document (for responses and watch ERROR events)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": error.message or "",
        "reason": error.reason or "",
        "code": error.status,
    }
    if not error.reason:  # e.g. the 500s of the storage layer: a real server sends no reason at all
        del body["reason"]
    if error.details:
        body["details"] = error.details
    return body
