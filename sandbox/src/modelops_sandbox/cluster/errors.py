"""Kubernetes API errors as the emulator answers them: a ``v1/Status`` with the conventional reason.

All of them are instances of kmock's :class:`kmock.KubernetesError`, so kmock's error rendering and any
user code catching kmock errors keep working. Messages follow the wording of the real API server where
clients (kubectl, client-go, kopf) show or parse them.
"""

from __future__ import annotations

from typing import Any

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


def resource_not_found() -> kmock.KubernetesError:
    return api_error(404, "NotFound", "the server could not find the requested resource")


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


def invalid(kind: str, group: str, name: str, cause: str) -> kmock.KubernetesError:
    qualified_kind = f"{kind}.{group}" if group else kind
    return api_error(
        422,
        "Invalid",
        f'{qualified_kind} "{name}" is invalid: {cause}',
        {"name": name, "group": group, "kind": kind, "causes": [{"message": cause}]},
    )


def unprocessable(message: str) -> kmock.KubernetesError:
    """What a failed JSON-patch (e.g. a failed ``test`` op) answers: 422 with reason Invalid."""
    return api_error(422, "Invalid", message)


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
    if error.details:
        body["details"] = error.details
    return body
